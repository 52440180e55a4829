// The scenarios every driver integration must pass end to end, against the real database behind the
// emulator: run by pg.e2e.test.ts and mysql2.e2e.test.ts, one driver each. Not a test file itself.
import { randomBytes } from 'node:crypto';
import { type AwsCredentials, RdsIamError } from '@rds-iam/core';
import { presignAuthToken } from '@rds-iam/emulator';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  driverError,
  hasDatabase,
  type IamEndpoint,
  loginAndQuery,
  startIamEndpoint,
} from '../harness/index.js';
import {
  type DriverPool,
  type DriverUnderTest,
  endpointOptions,
  endSessionsOf,
  eventLog,
  MINUTE,
  range,
  rejectionOf,
  waitFor,
} from './driver-support.js';

/** An RDS Proxy endpoint name, in the form RDS gives them. */
export const PROXY_HOST = 'myproxy.proxy-abc123xyz.us-east-1.rds.amazonaws.com';

export function driverScenarios(driver: DriverUnderTest): void {
  const { engine } = driver;

  describe.runIf(hasDatabase(engine))(`@rds-iam/${driver.name} through the emulator`, () => {
    let iam: IamEndpoint;
    const pools: DriverPool[] = [];
    const track = (pool: DriverPool): DriverPool => {
      pools.push(pool);
      return pool;
    };

    beforeAll(async () => {
      iam = await startIamEndpoint(engine);
    });
    afterEach(async () => {
      iam.emulator.rejectNextLogins(0);
      await Promise.all(pools.splice(0).map((p) => p.end().catch(() => undefined)));
    });
    afterAll(() => iam.stop());

    test('a pool of 10 serves queries; 16 minutes later every connection is recycled and logs in with a new token', async () => {
      const app = await createIamUser(engine, { database: true });
      const log = eventLog();
      iam.emulator.resetCounters();
      const pool = track(
        driver.createPool({
          ...endpointOptions(iam, app.user, app.database),
          size: 10,
          onEvent: log.onEvent,
        }),
      );

      // Ten physical connections at once: one mint, ten logins, all over TLS.
      const first = await Promise.all(range(10).map(() => pool.acquire()));
      const firstIds = new Set(
        (await Promise.all(first.map((c) => c.query(driver.sessionIdSql)))).map((r) =>
          String(r.id),
        ),
      );
      expect(first.every((c) => c.tls())).toBe(true);
      for (const c of first) c.release();
      expect(firstIds.size).toBe(10);
      await Promise.all(range(50).map(() => pool.query('SELECT 1 AS one')));
      expect(pool.size()).toBe(10);
      expect(iam.emulator.counters()).toMatchObject({ accepted: 10, rejected: 0 });
      expect(log.minted()).toHaveLength(1);

      const movedAt = iam.clock.now() + 16 * MINUTE;
      iam.clock.advance(16 * MINUTE);

      // Open sessions outlive their token: the pool keeps serving on them without logging in.
      await Promise.all(range(20).map(() => pool.query('SELECT 1 AS one')));
      expect(iam.emulator.counters().accepted).toBe(10);

      // Every session ends server-side (failover, proxy idle timeout); the pool drops them and
      // opens new ones on demand, with no pool.end() and no new pool.
      await endSessionsOf(engine, app.user);
      await waitFor(() => pool.size() === 0, 'the pool to drop its dead connections');
      const second = await Promise.all(range(10).map(() => pool.acquire()));
      const secondIds = (await Promise.all(second.map((c) => c.query(driver.sessionIdSql)))).map(
        (r) => String(r.id),
      );
      expect(second.every((c) => c.tls())).toBe(true);
      for (const c of second) c.release();
      expect(new Set(secondIds).size).toBe(10);
      expect(secondIds.filter((id) => firstIds.has(id))).toEqual([]);
      const rows = await Promise.all(range(50).map((i) => pool.query(`SELECT ${i} AS i`)));
      expect(rows.map((r) => Number(r.i))).toEqual(range(50));

      // Ten new logins, all accepted: the 16-minute-old token was never presented again.
      expect(iam.emulator.counters()).toMatchObject({ accepted: 20, rejected: 0 });
      const minted = log.minted();
      expect(minted).toHaveLength(2);
      expect(minted[1]?.background).toBe(false);
      expect(minted[1]?.issuedAt).toBeGreaterThanOrEqual(movedAt - 1_000);
      expect(minted[1]?.expiresAt).toBe((minted[1]?.issuedAt ?? 0) + 15 * MINUTE);
    });

    test('the server rejects one login: the next query succeeds after exactly one new mint', async () => {
      const app = await createIamUser(engine);
      const log = eventLog();
      const pool = track(
        driver.createPool({
          ...endpointOptions(iam, app.user, app.database),
          size: 2,
          onEvent: log.onEvent,
        }),
      );
      await pool.query('SELECT 1 AS one');
      expect(log.minted()).toHaveLength(1);
      // Keep the one connection busy, so the next query needs a new one.
      const held = await pool.acquire();

      iam.emulator.resetCounters();
      iam.emulator.rejectNextLogins(1);
      const row = await pool.query('SELECT 2 AS two');
      held.release();

      expect(Number(row.two)).toBe(2);
      expect(log.minted()).toHaveLength(2);
      expect(log.count('invalidated')).toBe(1);
      expect(iam.emulator.counters()).toMatchObject({
        accepted: 1,
        rejected: 1,
        rejectedByReason: { injected: 1 },
      });
    });

    test('the server rejects every login: ERR_AUTH_REJECTED after one retry, and no loop', async () => {
      const app = await createIamUser(engine);
      const log = eventLog();
      const pool = track(
        driver.createPool({
          ...endpointOptions(iam, app.user, app.database),
          size: 2,
          onEvent: log.onEvent,
        }),
      );
      iam.emulator.resetCounters();
      iam.emulator.rejectNextLogins(1_000);

      const err = await rejectionOf(pool.query('SELECT 1 AS one'));

      expect(err).toBeInstanceOf(RdsIamError);
      expect(err).toMatchObject({ code: 'ERR_AUTH_REJECTED' });
      expect(err.message).toContain(`${app.user}@${iam.endpoint.host}:${iam.endpoint.port}`);
      expect(err.message).toMatch(/rejected the IAM token .* twice/);
      expect(err.message).not.toMatch(/X-Amz-Signature=[0-9a-f]/);
      expect(log.minted()).toHaveLength(2);
      expect(iam.emulator.counters()).toMatchObject({
        accepted: 0,
        rejected: 2,
        rejectedByReason: { injected: 2 },
      });
      // Nothing keeps retrying behind the caller's back.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(iam.emulator.counters().rejected).toBe(2);
      expect(log.minted()).toHaveLength(2);

      // Once the server accepts again, the same pool recovers with one more mint.
      iam.emulator.rejectNextLogins(0);
      expect(Number((await pool.query('SELECT 3 AS three')).three)).toBe(3);
      expect(log.minted()).toHaveLength(3);
      expect(iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 2 });
    });

    test('credentials that expire after 3 minutes: later connections log in with the rotated keys', async () => {
      const app = await createIamUser(engine);
      const log = eventLog();
      const issued: Required<Omit<AwsCredentials, 'expiration'>>[] = [];
      const expirations: Date[] = [];
      // A role session of 3 minutes, as a credential provider function: every call hands out new
      // keys, and the emulator knows each with its expiry, so a token signed by expired keys fails.
      const credentials = async (): Promise<AwsCredentials> => {
        const keys = {
          accessKeyId: `ASIAROTATE${driver.name.toUpperCase()}${String(issued.length + 1).padStart(4, '0')}`,
          secretAccessKey: randomBytes(30).toString('base64'),
          sessionToken: randomBytes(48).toString('base64'),
        };
        const expiration = new Date(iam.clock.now() + 3 * MINUTE);
        iam.emulator.addCredentials({ ...keys, expiration });
        issued.push(keys);
        expirations.push(expiration);
        return { ...keys, expiration };
      };
      const pool = track(
        driver.createPool({
          ...endpointOptions(iam, app.user, app.database),
          credentials,
          size: 4,
          onEvent: log.onEvent,
        }),
      );
      iam.emulator.resetCounters();

      await pool.query('SELECT 1 AS one');
      expect(issued).toHaveLength(1);
      // The token dies with the keys that signed it, not 15 minutes after it was signed.
      expect(log.minted()[0]?.expiresAt).toBe(expirations[0]?.getTime());

      iam.clock.advance(4 * MINUTE);

      // The first keys are dead now: a token signed with them is refused as the server would.
      const old = issued[0];
      if (!old) throw new Error('no keys were issued');
      const stale = presignAuthToken({
        host: iam.endpoint.host,
        port: iam.endpoint.port,
        user: app.user,
        region: iam.region,
        ...old,
        signedAt: iam.clock.now(),
      });
      const refused = await loginAndQuery(iam, {
        user: app.user,
        database: app.database,
        password: stale,
      }).then(() => undefined, driverError);
      expect(refused).toBeDefined();
      expect(iam.emulator.counters().rejectedByReason).toEqual({ 'credentials-expired': 1 });

      // New connections (the old session ended): signed with the second keys, so accepted.
      iam.emulator.resetCounters();
      await endSessionsOf(engine, app.user);
      await waitFor(() => pool.size() === 0, 'the pool to drop its dead connection');
      await Promise.all(range(4).map(() => pool.acquire())).then((held) => {
        for (const c of held) c.release();
      });
      await Promise.all(range(20).map(() => pool.query('SELECT 1 AS one')));

      expect(iam.emulator.counters()).toMatchObject({ accepted: 4, rejected: 0 });
      expect(issued).toHaveLength(2);
      const foreground = log.minted().filter((e) => !e.background);
      expect(foreground).toHaveLength(2);
      expect(foreground[1]?.expiresAt).toBe(expirations[1]?.getTime());
    });

    test('credentials that cannot be resolved: ERR_CREDENTIALS, and no token reaches the server', async () => {
      const app = await createIamUser(engine);
      iam.emulator.resetCounters();
      const pool = track(
        driver.createPool({
          ...endpointOptions(iam, app.user, app.database),
          credentials: async () => {
            throw new Error('this instance has no IAM role');
          },
          size: 1,
        }),
      );
      const err = await rejectionOf(pool.query('SELECT 1 AS one'));
      expect(err).toBeInstanceOf(RdsIamError);
      expect(err).toMatchObject({ code: 'ERR_CREDENTIALS' });
      expect(err.message).toContain('this instance has no IAM role');
      expect(iam.emulator.counters()).toMatchObject({ accepted: 0, rejected: 0 });
    });

    test(`pool.end() lets go of the shared token cache: the ended pool's onEvent hears nothing more`, async () => {
      const app = await createIamUser(engine);
      const ended = eventLog();
      const live = eventLog();
      const first = driver.createPool({
        ...endpointOptions(iam, app.user, app.database),
        onEvent: ended.onEvent,
        size: 1,
      });
      await first.query('SELECT 1 AS one');
      await first.end();
      const heard = ended.events.map((e) => e.type);
      expect(heard).toEqual(['minted']);

      // Another pool for the same user and endpoint, later in the same process.
      const second = track(
        driver.createPool({
          ...endpointOptions(iam, app.user, app.database),
          onEvent: live.onEvent,
          size: 1,
        }),
      );
      await second.query('SELECT 1 AS one');
      expect(live.events).toHaveLength(1);
      expect(ended.events.map((e) => e.type)).toEqual(heard);
    });

    test(`RDS Proxy and custom DNS: the token names the proxy endpoint while the client dials 127.0.0.1 or localhost`, async () => {
      const defaultPort = engine === 'postgres' ? 5432 : 3306;
      const proxy = await startIamEndpoint(engine, {
        endpointHost: PROXY_HOST,
        endpointPort: defaultPort,
      });
      const app = await createIamUser(engine);
      const log = eventLog();
      const options = {
        port: proxy.port,
        user: app.user,
        database: app.database,
        // No region: it comes from the proxy's hostname.
        signingHost: PROXY_HOST,
        signingPort: defaultPort,
        credentials: proxy.credentials,
        now: proxy.clock.now,
        ssl: { ca: proxy.ca },
        onEvent: log.onEvent,
        size: 2,
      };
      for (const host of ['127.0.0.1', 'localhost']) {
        const pool = track(driver.createPool({ ...options, host }));
        const held = await pool.acquire();
        expect(held.tls()).toBe(true);
        expect(Number((await held.query('SELECT 1 AS one')).one)).toBe(1);
        held.release();
      }
      expect(proxy.emulator.counters()).toMatchObject({ accepted: 2, rejected: 0 });
      const minted = log.minted();
      expect(minted).toHaveLength(1);
      expect(minted[0]).toMatchObject({ host: PROXY_HOST, port: defaultPort, region: 'us-east-1' });

      // The same pool without signingHost signs for what it dials, and the proxy refuses that.
      const unsigned = track(
        driver.createPool({
          host: '127.0.0.1',
          port: proxy.port,
          user: app.user,
          database: app.database,
          region: 'us-east-1',
          credentials: proxy.credentials,
          now: proxy.clock.now,
          ssl: { ca: proxy.ca },
        }),
      );
      const err = await rejectionOf(unsigned.query('SELECT 1 AS one'));
      expect(err).toMatchObject({ code: 'ERR_AUTH_REJECTED' });
      expect(proxy.emulator.counters()).toMatchObject({
        accepted: 2,
        rejected: 2,
        rejectedByReason: { 'wrong-host': 2 },
      });
      await Promise.all(pools.splice(0).map((p) => p.end()));
      await proxy.stop();
    });
  });
}
