import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAuthToken, RdsIamError, sharedTokenProvider } from '@rds-iam/core';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { iamDatabaseUrl } from '../../packages/prisma/src/index.js';
import { iamPrismaMariaDb } from '../../packages/prisma/src/mariadb.js';
import {
  adminQuery,
  createIamUser,
  databaseFor,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';
import { waitFor, waitForQuietEmulator } from './driver-support.js';
import { SLOW_CREDENTIALS_MS } from './orm-scenarios.js';
import { exampleTests } from './prisma-example-tests.js';
import {
  createTables,
  EXAMPLES,
  ensurePrismaPackageBuilt,
  errorText,
  eventCounter,
  exerciseCrudAndTransactions,
  generateClient,
  iamOptions,
  MINUTE,
  rdsIamCode,
} from './prisma-helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: the generated client exists only after `prisma generate` (beforeAll), so it cannot be typed statically here.
type Client = any;
type ClientClass = new (options: { adapter: unknown; log?: unknown }) => Client;

/** Sessions the user has on the real server (what the pool really holds open). */
async function sessionsOf(iam: IamEndpoint, user: string): Promise<number[]> {
  const rows = await adminQuery(
    iam.database,
    'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?',
    [user],
  );
  return rows.map((r) => Number(r.id));
}

async function killSessionsOf(iam: IamEndpoint, user: string): Promise<number> {
  const ids = await sessionsOf(iam, user);
  for (const id of ids) await adminQuery(iam.database, `KILL CONNECTION ${id}`).catch(() => []);
  return ids.length;
}

/** Logs in with a URL's user and password (the token), over TLS with its CA, as RDS asks. */
async function loginWithUrl(url: URL): Promise<void> {
  const token = decodeURIComponent(url.password);
  const conn = await mysql.createConnection({
    host: url.hostname,
    port: Number(url.port),
    user: decodeURIComponent(url.username),
    database: decodeURIComponent(url.pathname.slice(1)),
    ssl: { ca: readFileSync(url.searchParams.get('sslcert') ?? '', 'utf8') },
    authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
  });
  await conn.end();
}

describe.runIf(hasDatabase('mysql'))(
  '@rds-iam/prisma: Prisma 7 + MySQL/MariaDB through the emulator',
  () => {
    let iam: IamEndpoint;
    let app: IamUser;
    let PrismaClient: ClientClass;
    const clients: Client[] = [];
    const newClient = (adapter: unknown, log?: unknown): Client => {
      const client = new PrismaClient({ adapter, log });
      clients.push(client);
      return client;
    };
    const disconnect = async (client: Client): Promise<void> => {
      clients.splice(clients.indexOf(client), 1);
      await client.$disconnect();
      // The connector lets a connection it was opening when its pool ended finish, then closes it
      // (mariadb lib/pool.js): the next test's counters must hold its own logins only.
      await waitForQuietEmulator(
        iam.emulator,
        () => 0,
        'the ended pool to close every connection',
        5_000,
      );
    };

    beforeAll(async () => {
      [iam, app] = await Promise.all([
        startIamEndpoint('mysql'),
        createIamUser('mysql', { database: true }),
        generateClient('mysql'),
        ensurePrismaPackageBuilt(),
      ]);
      await createTables(iam, app);
      ({ PrismaClient } = (await import(join(EXAMPLES.mysql, 'generated/prisma/client.ts'))) as {
        PrismaClient: ClientClass;
      });
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.$disconnect().catch(() => undefined)));
    });

    test('a generated prisma-client runs CRUD, relations, both $transaction forms and raw SQL', async () => {
      iam.emulator.resetCounters();
      const prisma = newClient(iamPrismaMariaDb(iamOptions(iam, app)));

      const created = await exerciseCrudAndTransactions(prisma);

      const [session] =
        await prisma.$queryRaw`SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1) AS user, ${41} + 1 AS n`;
      if (databaseFor('mysql')?.enforcesLoginUser) expect(session.user).toBe(app.user);
      expect(Number(session.n)).toBe(42);
      expect(
        await prisma.$executeRaw`DELETE FROM prisma_posts WHERE author_id = ${created.id}`,
      ).toBe(2);
      await prisma.user.delete({ where: { id: created.id } });
      expect(await prisma.user.count()).toBe(0);

      expect(iam.emulator.counters().accepted).toBeGreaterThan(0);
      expect(iam.emulator.counters().rejected).toBe(0);
      await disconnect(prisma);
    });

    test('every new connection logs in with a valid token, and the pool settings users set keep working', async () => {
      iam.emulator.resetCounters();
      const events = eventCounter();
      const prisma = newClient(
        iamPrismaMariaDb({
          ...iamOptions(iam, app, { onEvent: events.onEvent }),
          connectionLimit: 4,
          minimumIdle: 4,
          idleTimeout: 1,
          acquireTimeout: 800,
        }),
      );
      await prisma.$connect();
      // minimumIdle: the pool fills up to 4 connections by itself, each with a valid token.
      await waitFor(
        async () => (await sessionsOf(iam, app.user)).length === 4,
        'four sessions',
        5_000,
      );
      expect(iam.emulator.counters()).toMatchObject({ accepted: 4, rejected: 0 });

      // connectionLimit: 12 slow queries at once never use more than 4 connections.
      await Promise.all(
        Array.from({ length: 12 }, () => prisma.$queryRaw`SELECT SLEEP(0.05) AS s`),
      );
      expect((await sessionsOf(iam, app.user)).length).toBe(4);
      expect(iam.emulator.counters()).toMatchObject({ accepted: 4, rejected: 0 });

      // acquireTimeout: with all 4 connections held by transactions, a 5th query gives up after ~800 ms.
      let release = (): void => {};
      const held = new Promise<void>((r) => {
        release = r;
      });
      const transactions = Array.from({ length: 4 }, () =>
        prisma.$transaction(
          async (tx: Client) => {
            await tx.$queryRaw`SELECT 1 AS one`;
            await held;
          },
          { timeout: 10_000, maxWait: 5_000 },
        ),
      );
      await waitFor(
        async () => (await sessionsOf(iam, app.user)).length === 4,
        'four sessions',
        5_000,
      );
      await new Promise((r) => setTimeout(r, 100));
      const started = performance.now();
      const timedOut = await prisma.user.count().then(
        () => undefined,
        (e: unknown) => e,
      );
      const waited = performance.now() - started;
      release();
      await Promise.all(transactions);
      expect(errorText(timedOut)).toMatch(/pool timeout|timeout/i);
      expect(waited).toBeGreaterThan(600);
      expect(waited).toBeLessThan(3_000);
      expect(events.count('minted')).toBe(1);
      await disconnect(prisma);

      // idleTimeout with minimumIdle 0: idle connections close after ~1 s. (The mariadb 3.4 connector the
      // adapter pins never opens a connection with minimumIdle 0; rds-iam keeps one idle there.)
      const idle = newClient(
        iamPrismaMariaDb({
          ...iamOptions(iam, app),
          connectionLimit: 3,
          minimumIdle: 0,
          idleTimeout: 1,
        }),
      );
      await Promise.all(Array.from({ length: 9 }, () => idle.$queryRaw`SELECT SLEEP(0.05) AS s`));
      expect((await sessionsOf(iam, app.user)).length).toBeGreaterThan(1);
      await waitFor(
        async () => (await sessionsOf(iam, app.user)).length <= 1,
        'idle sessions to close',
        4_000,
      );
      await disconnect(idle);
    });

    test('16 minutes of clock with connections killed and idled out: no query fails, new connections carry new tokens', async () => {
      iam.emulator.resetCounters();
      const events = eventCounter();
      const prisma = newClient(
        iamPrismaMariaDb({
          ...iamOptions(iam, app, { onEvent: events.onEvent }),
          connectionLimit: 3,
          minimumIdle: 1,
          idleTimeout: 1,
        }),
      );
      let failed = 0;
      let ran = 0;
      const acceptedPerStep: number[] = [];
      for (let step = 0; step <= 4; step++) {
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) =>
            i % 3 === 0
              ? prisma.$transaction(async (tx: Client) => tx.user.count())
              : prisma.$queryRaw`SELECT CONNECTION_ID() AS id, ${i} AS i`,
          ),
        );
        ran += results.length;
        failed += results.filter((r) => r.status === 'rejected').length;
        acceptedPerStep.push(iam.emulator.counters().accepted);
        // Kill every session of the user on the server, and let the pool see it.
        const killed = await killSessionsOf(iam, app.user);
        expect(killed).toBeGreaterThan(0);
        await new Promise((r) => setTimeout(r, 150));
        if (step < 4) iam.clock.advance(4 * MINUTE);
      }
      expect({ ran, failed }).toEqual({ ran: 60, failed: 0 });
      expect(iam.emulator.counters().rejected).toBe(0);
      for (let i = 1; i < acceptedPerStep.length; i++) {
        expect(acceptedPerStep[i]).toBeGreaterThan(acceptedPerStep[i - 1] ?? 0);
      }
      expect(events.count('minted')).toBeGreaterThanOrEqual(2);
      expect(events.count('error')).toBe(0);
      await disconnect(prisma);
    });

    test('a cold burst of 50 parallel queries on a fresh client makes one mint', async () => {
      iam.emulator.resetCounters();
      const events = eventCounter();
      const prisma = newClient(
        iamPrismaMariaDb({
          ...iamOptions(iam, app, { onEvent: events.onEvent }),
          connectionLimit: 10,
        }),
      );
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => prisma.$queryRaw`SELECT ${i} AS i, SLEEP(0.01) AS s`),
      );
      expect(results.map((r: { i: bigint | number }[]) => Number(r[0]?.i))).toEqual(
        Array.from({ length: 50 }, (_, i) => i),
      );
      expect(events.count('minted')).toBe(1);
      expect(iam.emulator.counters().accepted).toBeGreaterThan(1);
      expect(iam.emulator.counters().rejected).toBe(0);
      await disconnect(prisma);
    });

    test("a credential source slower than the mariadb connector's own connect timeout (1 s): the login waits for it", async () => {
      iam.emulator.resetCounters();
      let requests = 0;
      const prisma = newClient(
        iamPrismaMariaDb({
          ...iamOptions(iam, app),
          credentials: async () => {
            requests += 1;
            await new Promise((resolve) => setTimeout(resolve, SLOW_CREDENTIALS_MS));
            return iam.credentials;
          },
        }),
      );
      expect(await prisma.user.count()).toBeGreaterThanOrEqual(0);
      expect(requests).toBe(1);
      expect(iam.emulator.counters()).toMatchObject({ rejected: 0 });
      await disconnect(prisma);
    });

    test('a failing mint surfaces at once as an RdsIamError, not as a pool timeout', async () => {
      const signFails = newClient(
        iamPrismaMariaDb({
          ...iamOptions(iam, app),
          sign: () => {
            throw new Error('signer unavailable');
          },
        }),
      );
      let started = performance.now();
      const signing = await signFails.user.count().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(rdsIamCode(signing)).toBe('ERR_SIGNING');
      expect(errorText(signing)).toContain('signer unavailable');

      const credentialsFail = newClient(
        iamPrismaMariaDb({
          ...iamOptions(iam, app),
          credentials: async () => {
            throw new Error('no IMDS here');
          },
        }),
      );
      started = performance.now();
      const credentials = await credentialsFail.user.count().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(rdsIamCode(credentials)).toBe('ERR_CREDENTIALS');
      // A second query in the provider's backoff fails as fast.
      started = performance.now();
      expect(rdsIamCode(await credentialsFail.user.count().catch((e: unknown) => e))).toBe(
        'ERR_CREDENTIALS',
      );
      expect(performance.now() - started).toBeLessThan(500);
      await Promise.all([disconnect(signFails), disconnect(credentialsFail)]);
    });

    test('the token goes out only over verified TLS: a wrong CA fails fast with ERR_TLS_VERIFY', async () => {
      // A fresh endpoint, so that its counters hold this client's logins only (a pool an earlier
      // test ended may still finish a login on the shared one), dialled with the shared one's CA.
      const other = await startIamEndpoint('mysql');
      const prisma = newClient(
        iamPrismaMariaDb({ ...iamOptions(other, app), ssl: { ca: iam.ca } }),
      );
      const started = performance.now();
      const err = await prisma.user.count().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(rdsIamCode(err)).toBe('ERR_TLS_VERIFY');
      // The emulator never accepted a login: the connector (mariadb 3.4 relaxes certificate checks at
      // the TLS layer for MariaDB servers) was given an empty password, never the token.
      const counters = other.emulator.counters();
      expect(counters.connectionsOpened).toBeGreaterThan(0);
      expect(counters.accepted).toBe(0);
      for (const reason of Object.keys(counters.rejectedByReason)) expect(reason).toBe('malformed');
      await disconnect(prisma);
      await other.stop();
    });

    test('a rejected token is dropped and the pool retries with a new one; rejected twice, queries fail fast', async () => {
      iam.emulator.resetCounters();
      const events = eventCounter();
      const options = iamOptions(iam, app, { onEvent: events.onEvent });
      const logs: string[] = [];
      const prisma = newClient(iamPrismaMariaDb({ ...options, minimumIdle: 0 }), [
        { emit: 'event', level: 'query' },
        { emit: 'event', level: 'error' },
        { emit: 'event', level: 'warn' },
        { emit: 'event', level: 'info' },
      ]);
      for (const level of ['query', 'error', 'warn', 'info']) {
        prisma.$on(level, (e: unknown) => logs.push(JSON.stringify(e)));
      }
      iam.emulator.rejectNextLogins(1);
      expect(await prisma.user.count()).toBe(0);
      expect(events.count('invalidated')).toBe(1);
      expect(events.count('minted')).toBe(2);
      expect(iam.emulator.counters()).toMatchObject({ rejected: 1 });
      const token = await sharedTokenProvider(options).getToken();

      // Every login rejected: the pool's retry gets a fresh token, is rejected again, and the waiting
      // query fails at once instead of after acquireTimeout.
      iam.emulator.rejectNextLogins(1_000);
      await killSessionsOf(iam, app.user);
      await new Promise((r) => setTimeout(r, 150));
      const started = performance.now();
      const err = await prisma.user.count().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(rdsIamCode(err)).toBe('ERR_AUTH_REJECTED');
      iam.emulator.rejectNextLogins(0);
      expect(await prisma.user.count()).toBe(0);

      const everything = [errorText(err), ...logs, JSON.stringify(events.events)].join('\n');
      const signature = new URL(`https://${token}`).searchParams.get('X-Amz-Signature') ?? token;
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(signature);
      await disconnect(prisma);
    });

    test('iamDatabaseUrl: the token survives URL-encoding, TLS is strict in Prisma terms, the URL logs in', async () => {
      const tricky = "host:3306/?Action=connect&DBUser=a b&X=%2F%3D+/@:#[]!$'()*,;=%25&Y=ü";
      const url = await iamDatabaseUrl({
        ...iamOptions(iam, app),
        engine: 'mysql',
        sign: () => ({ token: tricky, expiresAt: iam.clock.now() + 15 * MINUTE }),
        params: { connection_limit: 3 },
      });
      const parsed = new URL(url);
      expect(decodeURIComponent(parsed.password)).toBe(tricky);
      expect(parsed.protocol).toBe('mysql:');
      expect(parsed.pathname).toBe(`/${app.database}`);
      expect(Object.fromEntries(parsed.searchParams)).toMatchObject({
        sslaccept: 'strict',
        connection_limit: '3',
      });
      expect(parsed.searchParams.has('sslmode')).toBe(false);
      expect(readFileSync(parsed.searchParams.get('sslcert') ?? '', 'utf8').trim()).toBe(
        iam.ca.trim(),
      );

      iam.emulator.resetCounters();
      const real = new URL(await iamDatabaseUrl({ ...iamOptions(iam, app), engine: 'mysql' }));
      const token = decodeURIComponent(real.password);
      expect(parseAuthToken(token).user).toBe(app.user);
      const conn = await mysql.createConnection({
        host: real.hostname,
        port: Number(real.port),
        user: decodeURIComponent(real.username),
        database: real.pathname.slice(1),
        ssl: { ca: readFileSync(real.searchParams.get('sslcert') ?? '', 'utf8') },
        authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
      });
      const [rows] = await conn.query('SELECT SUBSTRING_INDEX(CURRENT_USER(), "@", 1) AS u');
      await conn.end();
      if (databaseFor('mysql')?.enforcesLoginUser) expect(rows).toEqual([{ u: app.user }]);
      expect(iam.emulator.counters()).toMatchObject({ rejected: 0 });

      const other = await startIamEndpoint('mysql');
      const failing = await iamDatabaseUrl({
        ...iamOptions(iam, app),
        engine: 'mysql',
        ssl: { ca: other.ca },
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failing).toBeInstanceOf(RdsIamError);
      expect((failing as RdsIamError).code).toBe('ERR_TLS_VERIFY');
      await other.stop();
    });

    exampleTests(
      'mysql',
      () => app,
      (url) => loginWithUrl(url),
    );
  },
);
