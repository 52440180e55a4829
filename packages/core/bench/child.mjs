// Runs one fresh Node process and times it, start to exit: what a Lambda cold start or a CLI command
// pays. Shared by the cold-start benches of @rds-iam/core and @rds-iam/pg.
import { execFile } from 'node:child_process';

/**
 * Wall time of `node --input-type=module -e script` in `cwd` with exactly `env` (plus PATH), in ms.
 * Asynchronous, so a server in the calling process (the emulator) keeps serving meanwhile. Fails when
 * the child fails: a benchmark of a broken run means nothing.
 *
 * @param {string} script
 * @param {{ cwd: string | URL, env: Record<string, string> }} options
 * @returns {Promise<number>}
 */
export function processMs(script, { cwd, env }) {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (err, _stdout, stderr) => {
        if (err) reject(new Error(`child failed: ${err.message}\n${stderr}`));
        else resolve(performance.now() - started);
      },
    );
  });
}
