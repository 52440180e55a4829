#!/usr/bin/env node
// What a newcomer tries right after the README's first set-up line, and nothing else: .ci/run runs
// this on its fresh clone between the two set-up lines. Each check runs the command the README gives,
// from the repository root, and must end well:
//   pnpm rds-iam --version                                  the CLI from a clone
//   pnpm --filter @rds-iam/example-knex-postgres start      a PostgreSQL ORM example
//   pnpm --filter @rds-iam/example-sequelize-mysql start    a MySQL ORM example
//   pnpm --filter @rds-iam/example-lambda start             the Lambda handler, bundled and invoked
// With the output of the first line as argument, also checks that it printed no warning a newcomer
// could not place (pnpm's "Ignored build scripts").
//
//   node scripts/after-setup.mjs [first-line.log]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const version = JSON.parse(readFileSync(`${root}packages/cli/package.json`, 'utf8')).version;

/** The checks: a command (words) and what its output must show. */
const CHECKS = [
  { command: ['pnpm', 'rds-iam', '--version'], expect: new RegExp(`^${version}$`, 'm') },
  {
    command: ['pnpm', '--filter', '@rds-iam/example-knex-postgres', 'start'],
    expect: /^logged in as \S+ with an IAM token$/m,
  },
  {
    command: ['pnpm', '--filter', '@rds-iam/example-sequelize-mysql', 'start'],
    expect: /^logged in as \S+ with an IAM token$/m,
  },
  {
    command: ['pnpm', '--filter', '@rds-iam/example-lambda', 'start'],
    expect: /^esm, SDK bundled: logged in as \S+ \(cold, then warm\).*exited by itself/m,
  },
];

/** Runs `words` in the repository root; resolves to its exit code and combined output. */
function run(words) {
  return new Promise((resolve) => {
    const child = spawn(words[0], words.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    // Every wait has a bound: an example that hangs fails the check.
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal ? `killed (${signal})` : code, output });
    });
  });
}

const failures = [];
const [setupLog] = process.argv.slice(2);
if (setupLog) {
  const unplaced = readFileSync(setupLog, 'utf8')
    .split('\n')
    .filter((line) => /Ignored build scripts|WARN/.test(line));
  if (unplaced.length > 0) failures.push(`the first line printed:\n${unplaced.join('\n')}`);
}
for (const { command, expect } of CHECKS) {
  const started = performance.now();
  const { code, output } = await run(command);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (code === 0 && expect.test(output)) {
    console.log(`ok   ${command.join(' ')} (${seconds} s)`);
  } else {
    console.log(`FAIL ${command.join(' ')} (exit ${code}, ${seconds} s)`);
    failures.push(`${command.join(' ')}:\n${output.trimEnd()}`);
  }
}
if (failures.length > 0) {
  console.log(`\n${failures.join('\n\n')}`);
  process.exit(1);
}
