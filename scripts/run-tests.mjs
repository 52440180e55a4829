// Runs every package's tests through turbo (one package at a time: they share the local databases
// and this machine has two cores), then adds up the JSON reports their Vitest runs wrote into one
// closing line, "N passed, N failed, N skipped". Exits non-zero when anything failed or a package
// that has tests wrote no report. When a package fails with every test passed (a failed hook, an
// unhandled error), its Vitest error sections are printed again just above the closing line, because
// CI logs are often read from the end.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dirs = ['packages', 'examples']
  .flatMap((group) =>
    existsSync(join(root, group))
      ? readdirSync(join(root, group)).map((name) => join(root, group, name))
      : [],
  )
  .concat(join(root, 'test'), join(root, 'test', 'mikro-orm-7'))
  .filter((dir) => existsSync(join(dir, 'package.json')));

for (const dir of dirs) rmSync(join(dir, '.vitest'), { recursive: true, force: true });
// Colour only on a terminal. Turbo and Vitest colour their output under CI=true even into a pipe or
// a file, where the escape codes are noise; NO_COLOR (no-color.org) turns them off, FORCE_COLOR wins.
// biome-ignore lint/suspicious/noUndeclaredEnvVars: read here, outside any turbo task (nothing cached)
const colour = process.stdout.isTTY === true || Boolean(process.env.FORCE_COLOR);
const child = spawn(
  'pnpm',
  ['exec', 'turbo', 'run', 'test', '--concurrency=1', '--continue', ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: ['inherit', 'pipe', 'inherit'],
    env: colour ? process.env : { ...process.env, NO_COLOR: '1' },
  },
);
/** Each turbo task's output lines ("@rds-iam/cli:test: ..."), prefix removed. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colours
const plain = (line) => line.replace(/\u001b\[[0-9;]*m/g, '');
const taskLines = new Map();
const failedTasks = new Set();
let pending = '';
const keep = (raw) => {
  const line = plain(raw);
  // turbo names a failed task twice: "<pkg>#test: ERROR command ... exited (1)" when it ends, and
  // in the closing "Failed:" list.
  const errored = /^(@[\w-]+\/[\w.-]+)#test:\s+ERROR\b/.exec(line);
  if (errored) failedTasks.add(errored[1]);
  if (/^\s*Failed:\s/.test(line))
    for (const m of line.matchAll(/(@[\w-]+\/[\w.-]+)#test/g)) failedTasks.add(m[1]);
  const m = /^(@[\w-]+\/[\w.-]+):test: ?(.*)$/.exec(line);
  if (!m) return;
  const lines = taskLines.get(m[1]) ?? [];
  lines.push(m[2]);
  taskLines.set(m[1], lines);
};
child.stdout.setEncoding('utf8').on('data', (chunk) => {
  process.stdout.write(chunk);
  const text = pending + chunk;
  const lines = text.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) keep(line);
});
const status = await new Promise((done) => child.once('close', (code) => done(code ?? 1)));
if (pending) keep(pending);

/** Vitest's error sections ("Failed Suites", "Unhandled Errors", ...) from a task's output. */
function errorSections(lines) {
  const out = [];
  let inside = false;
  for (const line of lines) {
    if (/⎯{3,} (Failed Suites|Failed Tests|Unhandled Errors?|Unhandled Rejection)/.test(line))
      inside = true;
    else if (/^\s*Test Files\s/.test(line)) inside = false;
    if (inside || /Vitest caught \d+ unhandled error/.test(line)) out.push(line);
  }
  return out.slice(0, 80);
}

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
const failedSuites = [];
for (const dir of dirs) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (!pkg.scripts?.test) continue;
  const report = join(dir, '.vitest', 'results.json');
  if (!existsSync(report)) {
    missing.push(pkg.name);
    continue;
  }
  const r = JSON.parse(readFileSync(report, 'utf8'));
  // Every test passed, yet the package failed: a hook, a file that did not load, an unhandled error.
  if (r.numFailedTests === 0 && (failedTasks.has(pkg.name) || r.numFailedTestSuites > 0)) {
    const why = r.numFailedTestSuites > 0 ? `${r.numFailedTestSuites} failed suites` : 'errors';
    failedSuites.push(`${pkg.name} (${why}: see above)`);
  }
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
}
for (const task of failedTasks) {
  const lines = taskLines.get(task) ?? [];
  const sections = errorSections(lines);
  console.log(
    `\n--- ${task} failed; ${sections.length ? 'its error sections' : 'its last lines'} ---`,
  );
  for (const line of sections.length ? sections : lines.slice(-30)) console.log(line);
}
if (missing.length) console.log(`no test report from: ${missing.join(', ')}`);
if (failedSuites.length) console.log(`failed outside tests: ${failedSuites.join(', ')}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status !== 0 || failed > 0 || missing.length > 0 ? 1 : 0);
