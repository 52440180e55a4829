// Runs every package's tests through turbo (one package at a time: they share the local databases
// and this machine has two cores), then adds up the JSON reports their Vitest runs wrote into one
// closing line, "N passed, N failed, N skipped". Exits non-zero when anything failed or a package
// that has tests wrote no report.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dirs = ['packages', 'examples']
  .flatMap((group) =>
    existsSync(join(root, group))
      ? readdirSync(join(root, group)).map((name) => join(root, group, name))
      : [],
  )
  .concat(join(root, 'test'))
  .filter((dir) => existsSync(join(dir, 'package.json')));

for (const dir of dirs) rmSync(join(dir, '.vitest'), { recursive: true, force: true });
const run = spawnSync(
  'pnpm',
  ['exec', 'turbo', 'run', 'test', '--concurrency=1', '--continue', ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
  },
);

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const dir of dirs) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (!pkg.scripts?.test) continue;
  const report = join(dir, '.vitest', 'results.json');
  if (!existsSync(report)) {
    missing.push(pkg.name);
    continue;
  }
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
}
if (missing.length) console.log(`no test report from: ${missing.join(', ')}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(run.status !== 0 || failed > 0 || missing.length > 0 ? 1 : 0);
