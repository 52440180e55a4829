// The credential source hangs, answers errors, answers slowly, then recovers, under a real pool
// behind the emulator: a query fails within credentialsTimeoutMs with ERR_CREDENTIALS_TIMEOUT (not a
// pool that waits forever), then succeeds once the source answers. Run by pg-credentials-fault and
// mysql2-credentials-fault, each in its own worker: the default chain is memoized per process. Not a
// test file itself.
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { createIamUser, hasDatabase } from '../harness/index.js';
import {
  containerCredentialsBed,
  type DriverUnderTest,
  endpointOptions,
  rejectionOf,
  waitFor,
} from './driver-support.js';

/** The bound under test: short, so the suite stays quick; the default (5 s) works the same way. */
const TIMEOUT_MS = 1_000;

export function credentialFault(driver: DriverUnderTest): void {
  const { engine } = driver;

  describe.runIf(hasDatabase(engine))(
    `@rds-iam/${driver.name}: the container credentials endpoint hangs, errs, is slow, recovers`,
    () => {
      const keys = {
        accessKeyId: 'ASIAFAULTSTANDIN0001',
        secretAccessKey: randomBytes(30).toString('base64'),
        sessionToken: randomBytes(64).toString('base64'),
        expiration: new Date(Date.now() + 60 * 60_000),
      };
      const bed = containerCredentialsBed(engine, keys);

      test('a query fails within the bound with the code, then succeeds after recovery', async () => {
        const app = await createIamUser(engine);
        const pool = driver.createPool({
          ...endpointOptions(bed.iam, app.user, app.database),
          // No `credentials`: the default chain, which finds the stand-in.
          credentials: undefined,
          credentialsTimeoutMs: TIMEOUT_MS,
          size: 2,
        });
        try {
          // Hung: two queries need two connections, which share one credential request.
          bed.standIn.mode = 'hang';
          const started = performance.now();
          const hung = await rejectionOf(
            Promise.all([pool.query('SELECT 1 AS one'), pool.query('SELECT 1 AS one')]),
          );
          const waited = performance.now() - started;
          expect(hung.code).toBe('ERR_CREDENTIALS_TIMEOUT');
          expect(hung.message).toContain(bed.standIn.url);
          expect(hung.message).toContain(`${TIMEOUT_MS} ms`);
          expect(waited).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
          expect(waited).toBeLessThan(TIMEOUT_MS + 4_000);
          expect(bed.standIn.requests).toBe(1);
          // The abandoned request was closed, not left open on the agent.
          await waitFor(() => bed.standIn.hanging() === 0, 'the hung request to be closed', 5_000);

          // Errors: past the backoff, the next connection asks again and gets a clear failure.
          bed.iam.clock.advance(10_000);
          bed.standIn.mode = 'error';
          const failed = await rejectionOf(pool.query('SELECT 1 AS one'));
          expect(failed.code).toBe('ERR_CREDENTIALS');
          expect(failed.message).toContain('HTTP 500');
          expect(bed.standIn.requests).toBe(2);

          // Slow but inside the bound, then healthy: the next query logs in.
          bed.iam.clock.advance(10_000);
          bed.standIn.mode = 'answer';
          bed.standIn.delayMs = 300;
          expect(await pool.query('SELECT 1 AS one')).toEqual({ one: 1 });
          expect(bed.standIn.requests).toBe(3);
          expect(bed.iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
        } finally {
          await pool.end();
        }
      });
    },
  );
}
