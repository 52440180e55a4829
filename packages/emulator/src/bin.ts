#!/usr/bin/env node
import { type CliRun, main } from './command.js';

// The binary only: `main` lives in command.ts, so that importing it never starts a server.
// Handlers first: a signal that arrives while starting must still stop cleanly.
let run: CliRun | undefined;
let signalled = false;
const shutdown = (): void => {
  signalled = true;
  if (!run) return; // stopped as soon as it is up
  run.emulator.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
main(process.argv.slice(2)).then(
  (started) => {
    run = started;
    if (!run) process.exit();
    if (signalled) shutdown();
  },
  (err: unknown) => {
    process.stderr.write(`rds-iam-emulator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
