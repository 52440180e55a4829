#!/usr/bin/env node
import { main } from './cli.js';

// A closed pipe (`rds-iam doctor | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// Set the code and let the event loop drain, so piped output is never cut short.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `rds-iam: unexpected error: ${err instanceof Error ? err.name : 'error'}\n`,
    );
    process.exitCode = 1;
  },
);
