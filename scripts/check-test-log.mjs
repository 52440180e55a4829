#!/usr/bin/env node
// Checks that a full test run (the README's second set-up line) left a log a person can read and a
// clean temporary directory; .ci/run runs it after that line:
//   - no line says `Error` or `Warning` unless it is on ALLOWED below, with the reason: an error a
//     test expects is asserted by that test, not printed (a printed one is a leak or a regression);
//   - no colour codes: the log is a file, not a terminal;
//   - no `rds-iam*` file or folder left in the temporary directory the tests ran with, except those
//     on LEFT_BEHIND below.
//
//   node scripts/check-test-log.mjs <log file> [<temporary directory>]
import { readdirSync, readFileSync } from 'node:fs';

/** Lines that may say Error or Warning, and why each is not output of a test. */
const ALLOWED = [
  {
    // "✓ e2e/x.test.ts > suite > a rejected token ... ERR_AUTH_REJECTED": Vitest lists a slow test
    // by its title (✓ passed, ↓ skipped), and a title may name the error the test checks.
    pattern: /^\s*[✓↓] /,
    why: "Vitest's line for one test: its title",
  },
];

/** Entries of the temporary directory that may stay, and why. */
const LEFT_BEHIND = [
  {
    pattern: /^rds-iam-ca-/,
    why: "@rds-iam/prisma's CA files for the Prisma CLI, removed when the process exits; Vitest ends its worker processes without an exit event",
  },
];

const [logFile, tmp] = process.argv.slice(2);
if (!logFile) {
  console.error('usage: node scripts/check-test-log.mjs <log file> [<temporary directory>]');
  process.exit(2);
}
const problems = [];
const lines = readFileSync(logFile, 'utf8').split('\n');
lines.forEach((raw, index) => {
  // turbo prefixes each task's lines with "<package>:<task>: ".
  const line = raw.replace(/^@?[\w./-]+:[\w:-]+: /, '');
  if (line.includes('\u001b['))
    problems.push(`line ${index + 1} has colour codes: ${JSON.stringify(raw)}`);
  if (/Error|Warning/.test(line) && !ALLOWED.some((a) => a.pattern.test(line))) {
    problems.push(`line ${index + 1} says Error or Warning and no test asserted it: ${raw}`);
  }
});
if (tmp) {
  for (const name of readdirSync(tmp)) {
    if (name.startsWith('rds-iam') && !LEFT_BEHIND.some((l) => l.pattern.test(name))) {
      problems.push(`the tests left ${name} in the temporary directory`);
    }
  }
}
if (problems.length > 0) {
  console.log(`${problems.length} problem(s) in the test log:`);
  for (const problem of problems.slice(0, 50)) console.log(`  ${problem}`);
  process.exit(1);
}
console.log(
  `test log: ${lines.length} lines, none says Error or Warning unasserted, no colour codes`,
);
