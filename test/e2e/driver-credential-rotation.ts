// Keys rotated behind the container credentials endpoint, the old ones no longer accepted: the next
// new connection's login is rejected, and its retry signs with the new keys (a rejected login makes
// rds-iam ask the credential source again) instead of failing with the same token twice. Run by
// pg-credentials-rotation and mysql2-credentials-rotation, each in its own worker: the default chain
// is memoized per process. Not a test file itself.
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { createIamUser, hasDatabase } from '../harness/index.js';
import {
  containerCredentialsBed,
  type DriverUnderTest,
  endpointOptions,
} from './driver-support.js';

function temporaryKeys(id: string) {
  return {
    accessKeyId: `ASIAROTATION${id}`,
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: randomBytes(64).toString('base64'),
    // Hours left: without the rejection, nothing would make rds-iam ask for credentials again.
    expiration: new Date(Date.now() + 6 * 60 * 60_000),
  };
}

export function credentialRotation(driver: DriverUnderTest): void {
  const { engine } = driver;

  describe.runIf(hasDatabase(engine))(
    `@rds-iam/${driver.name}: keys rotated behind the container endpoint, the old ones refused`,
    () => {
      const before = temporaryKeys('00000001');
      const after = temporaryKeys('00000002');
      const bed = containerCredentialsBed(engine, before);

      test('the retry of the rejected login signs with the new keys: no failed query', async () => {
        const app = await createIamUser(engine);
        const pool = driver.createPool({
          ...endpointOptions(bed.iam, app.user, app.database),
          // No `credentials`: the default chain, which finds the stand-in.
          credentials: undefined,
          size: 2,
        });
        try {
          expect(await pool.query('SELECT 1 AS one')).toEqual({ one: 1 });
          expect(bed.standIn.requests).toBe(1);

          // The rotation: the endpoint serves new keys, the server accepts only those.
          bed.standIn.keys = after;
          bed.iam.emulator.addCredentials(after);
          bed.iam.emulator.removeCredentials(before.accessKeyId);

          // With the idle connection held, the query needs a new one: its login with the cached
          // token (old keys) is refused, and the retry inside the same acquire uses the new keys.
          const held = await pool.acquire();
          try {
            expect(await pool.query('SELECT 1 AS one')).toEqual({ one: 1 });
          } finally {
            held.release();
          }
          expect(bed.standIn.requests).toBe(2);
          expect(bed.iam.emulator.counters()).toMatchObject({
            accepted: 2,
            rejected: 1,
            rejectedByReason: { 'unknown-access-key': 1 },
          });
        } finally {
          await pool.end();
        }
      });
    },
  );
}
