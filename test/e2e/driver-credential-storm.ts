// 200 new connections at once on a cold cache, with credentials from the AWS SDK's default chain:
// one credential request, one mint. Run by pg-credentials.e2e.test.ts and
// mysql2-credentials.e2e.test.ts, each in a fresh worker process, because the default chain is
// memoized once per process (that memo is what this measures). Not a test file itself.
import { randomBytes } from 'node:crypto';
import { type Emulator, startEmulator } from '@rds-iam/emulator';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  DEFAULT_ENDPOINT_HOST,
  hasDatabase,
  registerCleanup,
  requireDatabase,
  upstreamAuth,
} from '../harness/index.js';
import {
  type CredentialEndpoint,
  type DriverUnderTest,
  eventLog,
  type Gate,
  range,
  type SingleConnection,
  startCredentialEndpoint,
  startGate,
  useContainerCredentials,
} from './driver-support.js';

const CONNECTIONS = 200;
/** Upstream sessions at once: well under PostgreSQL's 100 and MariaDB's 151 max_connections. */
const UPSTREAM_SLOTS = 40;

export function credentialStorm(driver: DriverUnderTest): void {
  const { engine } = driver;

  describe.runIf(hasDatabase(engine))(
    `@rds-iam/${driver.name}: ${CONNECTIONS} new connections on a cold cache`,
    () => {
      const keys = {
        accessKeyId: 'ASIASTANDIN000000001',
        secretAccessKey: randomBytes(30).toString('base64'),
        sessionToken: randomBytes(64).toString('base64'),
        expiration: new Date(Date.now() + 60 * 60_000),
      };
      let standIn: CredentialEndpoint;
      let restoreEnv = () => {};
      let gate: Gate;
      let emulator: Emulator;

      beforeAll(async () => {
        // A loopback stand-in for the ECS container credentials endpoint, counting its requests. It
        // answers after 100 ms, as a real one might: long enough for callers to pile up.
        standIn = await startCredentialEndpoint(keys, 100);
        // Only the container endpoint may answer: no keys in the environment, no shared files, no IMDS.
        restoreEnv = useContainerCredentials(standIn.url);

        // The emulator knows only the stand-in's keys. It reaches the database through a gate, since
        // 200 sessions at once are more than the test servers allow.
        const database = requireDatabase(engine);
        gate = await startGate(database, UPSTREAM_SLOTS);
        emulator = await startEmulator({
          engine,
          upstream: { host: '127.0.0.1', port: gate.port, auth: upstreamAuth(engine) },
          host: '127.0.0.1',
          endpoint: { host: DEFAULT_ENDPOINT_HOST },
          credentials: [keys],
          handshakeTimeoutMs: 120_000,
        });
        registerCleanup(`${engine} storm emulator`, () => emulator.stop());
      });
      afterAll(async () => {
        await emulator?.stop();
        await gate?.close();
        await standIn?.close();
        restoreEnv();
      });

      test('1 credential request and 1 mint for all of them, every login accepted', async () => {
        const app = await createIamUser(engine);
        const log = eventLog();
        const options = {
          host: emulator.host,
          port: emulator.port,
          user: app.user,
          database: app.database,
          // The region comes from the RDS hostname; no `credentials`: the SDK's default chain.
          signingHost: emulator.endpoint.host,
          signingPort: emulator.endpoint.port,
          ssl: { ca: emulator.caPem },
          onEvent: log.onEvent,
        };

        const ids = await Promise.all(
          range(CONNECTIONS).map(async () => {
            const connection: SingleConnection = await driver.connect(options);
            try {
              return String((await connection.query(driver.sessionIdSql)).id);
            } finally {
              await connection.end();
            }
          }),
        );

        expect(new Set(ids).size).toBe(CONNECTIONS);
        expect(emulator.counters()).toMatchObject({ accepted: CONNECTIONS, rejected: 0 });
        expect(standIn.requests).toBe(1);
        const minted = log.minted();
        expect(minted).toHaveLength(1);
        expect(minted[0]?.credentialsMs).toBeGreaterThan(0);
        // Every other connection was served from that one mint: some waited on it while it was in
        // flight (no event), the rest got it from the cache ('hit').
        const hits = log.count('hit');
        const waitedOnTheMint = CONNECTIONS - 1 - hits;
        expect(waitedOnTheMint).toBeGreaterThanOrEqual(1);
        expect(gate.peak()).toBeLessThanOrEqual(UPSTREAM_SLOTS);
      });
    },
  );
}
