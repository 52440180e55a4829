#!/usr/bin/env node
// Prints line N (1 or 2) of the README's set-up block, the two commands a newcomer runs, so that
// .ci/run runs exactly what the README says. Exits 1 when the block is not two commands.
import { readFileSync } from 'node:fs';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const block = /^## Set-up\n[\s\S]*?```sh\n([\s\S]*?)```/m.exec(readme)?.[1];
const lines = (block ?? '').split('\n').filter((line) => line.trim() !== '');
const n = Number(process.argv[2]);
if (lines.length !== 2 || !(n === 1 || n === 2)) {
  console.error(`README.md: expected a Set-up block of two commands, found ${lines.length}`);
  process.exit(1);
}
console.log(lines[n - 1]);
