import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAuthToken, RdsIamError, sharedTokenProvider } from '@rds-iam/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { iamDatabaseUrl } from '../../packages/prisma/src/index.js';
import { iamPrismaPg } from '../../packages/prisma/src/pg.js';
import {
  adminQuery,
  createIamUser,
  databaseFor,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';
import { waitFor } from './driver-support.js';
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

/** Logs in with a URL's user and password (the token) as a Prisma engine would. */
async function loginWithUrl(url: URL, iam: IamEndpoint): Promise<void> {
  const client = new pg.Client({
    host: url.hostname,
    port: Number(url.port),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.slice(1)),
    ssl: {
      ca: readFileSync(url.searchParams.get('sslcert') ?? '', 'utf8'),
      servername: iam.endpoint.host,
    },
  });
  await client.connect();
  await client.end();
}

describe.runIf(hasDatabase('postgres'))(
  '@rds-iam/prisma: Prisma 7 + PostgreSQL through the emulator',
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

    /**
     * Kills every session of the app user on the server and lets the clients see it; returns how
     * many there were.
     */
    const killSessions = async (): Promise<number> => {
      const killed = await adminQuery(
        iam.database,
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1',
        [app.user],
      );
      await waitFor(
        () => iam.emulator.counters().connectionsActive === 0,
        'the emulator to see the killed sessions close',
        5_000,
      );
      await new Promise((r) => setTimeout(r, 30));
      return killed.length;
    };

    beforeAll(async () => {
      [iam, app] = await Promise.all([
        startIamEndpoint('postgres'),
        createIamUser('postgres', { database: true }),
        generateClient('postgres'),
        ensurePrismaPackageBuilt(),
      ]);
      await createTables(iam, app);
      ({ PrismaClient } = (await import(join(EXAMPLES.postgres, 'generated/prisma/client.ts'))) as {
        PrismaClient: ClientClass;
      });
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.$disconnect().catch(() => undefined)));
    });

    test('a generated prisma-client runs CRUD, relations, both $transaction forms and raw SQL', async () => {
      iam.emulator.resetCounters();
      const prisma = newClient(iamPrismaPg(iamOptions(iam, app)));

      const created = await exerciseCrudAndTransactions(prisma);

      const [session] = await prisma.$queryRaw`SELECT current_user AS "user", ${41}::int + 1 AS n`;
      if (databaseFor('postgres')?.enforcesLoginUser) expect(session.user).toBe(app.user);
      expect(session.n).toBe(42);
      expect(
        await prisma.$executeRaw`DELETE FROM prisma_posts WHERE author_id = ${created.id}`,
      ).toBe(2);
      await prisma.user.delete({ where: { id: created.id } });
      expect(await prisma.user.count()).toBe(0);

      const counters = iam.emulator.counters();
      expect(counters.accepted).toBeGreaterThan(0);
      expect(counters.rejected).toBe(0);
    });

    test('16 minutes of clock with connections killed and idled out: no query fails, new connections carry new tokens', async () => {
      iam.emulator.resetCounters();
      const events = eventCounter();
      // A small pool whose idle connections close after 20 ms: every step opens new connections.
      const small = newClient(
        iamPrismaPg(
          { ...iamOptions(iam, app, { onEvent: events.onEvent }), max: 3, idleTimeoutMillis: 20 },
          { onPoolError: () => {}, onConnectionError: () => {} },
        ),
      );
      let failed = 0;
      let ran = 0;
      const acceptedPerStep: number[] = [];
      for (let step = 0; step <= 4; step++) {
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) =>
            i % 3 === 0
              ? small.$transaction(async (tx: Client) => tx.user.count())
              : small.$queryRaw`SELECT pg_backend_pid() AS pid, ${i}::int AS i`,
          ),
        );
        ran += results.length;
        failed += results.filter((r) => r.status === 'rejected').length;
        acceptedPerStep.push(iam.emulator.counters().accepted);
        await killSessions();
        if (step < 4) iam.clock.advance(4 * MINUTE);
      }
      expect({ ran, failed }).toEqual({ ran: 60, failed: 0 });
      // Connections opened after the clock passed the first token's 15 minutes logged in: each step
      // opened new ones, and the emulator (same clock) rejected none, so they carried fresh tokens.
      expect(iam.emulator.counters().rejected).toBe(0);
      for (let i = 1; i < acceptedPerStep.length; i++) {
        expect(acceptedPerStep[i]).toBeGreaterThan(acceptedPerStep[i - 1] ?? 0);
      }
      expect(events.count('minted')).toBeGreaterThanOrEqual(2);
      expect(events.count('error')).toBe(0);
    });

    test('a cold burst of 50 parallel queries on a fresh client makes one mint', async () => {
      iam.emulator.resetCounters();
      const events = eventCounter();
      const prisma = newClient(
        iamPrismaPg({ ...iamOptions(iam, app, { onEvent: events.onEvent }), max: 10 }),
      );
      const results = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) => prisma.$queryRaw`SELECT ${i}::int AS i FROM pg_sleep(0.01)`,
        ),
      );
      expect(results.map((r: { i: number }[]) => r[0]?.i)).toEqual(
        Array.from({ length: 50 }, (_, i) => i),
      );
      expect(events.count('minted')).toBe(1);
      expect(iam.emulator.counters().accepted).toBeGreaterThan(1);
      expect(iam.emulator.counters().rejected).toBe(0);
    });

    test('a token the server rejects is dropped and the login retried: the query runs; no token text anywhere', async () => {
      iam.emulator.resetCounters();
      const events = eventCounter();
      const options = iamOptions(iam, app, { onEvent: events.onEvent });
      const logs: string[] = [];
      const prisma = newClient(iamPrismaPg(options), [
        { emit: 'event', level: 'query' },
        { emit: 'event', level: 'error' },
        { emit: 'event', level: 'warn' },
        { emit: 'event', level: 'info' },
      ]);
      for (const level of ['query', 'error', 'warn', 'info']) {
        prisma.$on(level, (e: unknown) => logs.push(JSON.stringify(e)));
      }
      expect(await prisma.user.count()).toBe(0);
      const token = await sharedTokenProvider(options).getToken();

      iam.emulator.rejectNextLogins(1);
      expect(await killSessions()).toBeGreaterThan(0);
      // The next connection is rejected (injected): the pool drops that token and logs in again with
      // a fresh one, inside the same query.
      expect(await prisma.user.count()).toBe(0);
      expect(events.count('invalidated')).toBe(1);
      expect(events.count('minted')).toBe(2);
      expect(iam.emulator.counters()).toMatchObject({ rejected: 1, accepted: 2 });

      // Rejected twice in a row: one retry only, then an error that says what to check.
      await killSessions();
      iam.emulator.rejectNextLogins(2);
      const err = await prisma.user.count().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(errorText(err)).toMatch(/rejected the IAM token .* twice/);
      expect(iam.emulator.counters()).toMatchObject({ rejected: 3 });
      expect(await prisma.user.count()).toBe(0);

      // (Minted in the same second for the same request, a SigV4 token can be byte-identical.)
      const newToken = await sharedTokenProvider(options).getToken();
      const everything = [errorText(err), ...logs, JSON.stringify(events.events)].join('\n');
      for (const t of [token, newToken]) {
        const signature = new URL(`https://${t}`).searchParams.get('X-Amz-Signature') ?? t;
        expect(everything).not.toContain(t);
        expect(everything).not.toContain(signature);
      }
    });

    test('a failing mint surfaces at once as an RdsIamError code on the Prisma error', async () => {
      const prisma = newClient(
        iamPrismaPg({
          ...iamOptions(iam, app),
          sign: () => {
            throw new Error('signer unavailable');
          },
        }),
      );
      const started = performance.now();
      const err = await prisma.user.count().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(rdsIamCode(err)).toBe('ERR_SIGNING');
      expect(errorText(err)).toContain('signer unavailable');
    });

    test('a certificate that does not verify fails fast with ERR_TLS_VERIFY and sends no token', async () => {
      // A fresh endpoint, so that its counters hold this client's logins only, dialled with the
      // shared one's CA.
      const other = await startIamEndpoint('postgres');
      const prisma = newClient(iamPrismaPg({ ...iamOptions(other, app), ssl: { ca: iam.ca } }));
      const started = performance.now();
      const err = await prisma.user.count().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(rdsIamCode(err) ?? errorText(err)).toMatch(
        /ERR_TLS_VERIFY|self[- ]signed|certificate/i,
      );
      const counters = other.emulator.counters();
      expect(counters.connectionsOpened).toBeGreaterThan(0);
      expect(counters).toMatchObject({ accepted: 0, rejected: 0 });
      await other.stop();
    });

    test('iamDatabaseUrl: the token survives URL-encoding, TLS is verify-full in Prisma terms, the URL logs in', async () => {
      // A token full of characters that need encoding: `sign` may return any text.
      const tricky = "host:5432/?Action=connect&DBUser=a b&X=%2F%3D+/@:#[]!$'()*,;=%25&Y=ü";
      const url = await iamDatabaseUrl({
        ...iamOptions(iam, app),
        engine: 'postgres',
        sign: () => ({ token: tricky, expiresAt: iam.clock.now() + 15 * MINUTE }),
        params: { schema: 'public', connect_timeout: 5 },
      });
      const parsed = new URL(url);
      expect(decodeURIComponent(parsed.password)).toBe(tricky);
      expect(decodeURIComponent(parsed.username)).toBe(app.user);
      expect(parsed.protocol).toBe('postgresql:');
      expect(`${parsed.hostname}:${parsed.port}`).toBe(`${iam.host}:${iam.port}`);
      expect(parsed.pathname).toBe(`/${app.database}`);
      expect(Object.fromEntries(parsed.searchParams)).toMatchObject({
        sslmode: 'require',
        sslaccept: 'strict',
        schema: 'public',
        connect_timeout: '5',
      });
      // The CA file holds the one certificate that anchors the server's chain (picked by a handshake).
      expect(readFileSync(parsed.searchParams.get('sslcert') ?? '', 'utf8').trim()).toBe(
        iam.ca.trim(),
      );

      // A real token: the decoded password logs in through the emulator.
      iam.emulator.resetCounters();
      const real = new URL(await iamDatabaseUrl({ ...iamOptions(iam, app), engine: 'postgres' }));
      const token = decodeURIComponent(real.password);
      expect(parseAuthToken(token).user).toBe(app.user);
      const client = new pg.Client({
        host: real.hostname,
        port: Number(real.port),
        user: decodeURIComponent(real.username),
        password: token,
        database: real.pathname.slice(1),
        ssl: {
          ca: readFileSync(real.searchParams.get('sslcert') ?? '', 'utf8'),
          servername: iam.endpoint.host,
        },
      });
      await client.connect();
      await client.end();
      expect(iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });

      // Errors never carry the token.
      const failing = await iamDatabaseUrl({
        ...iamOptions(iam, app),
        engine: 'postgres',
        ssl: { ca: (await startIamEndpoint('postgres')).ca },
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failing).toBeInstanceOf(RdsIamError);
      expect((failing as RdsIamError).code).toBe('ERR_TLS_VERIFY');
    });

    exampleTests('postgres', () => app, loginWithUrl);
  },
);
