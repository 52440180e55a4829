import { RdsIamError, type TokenEvent } from '@rds-iam/core';
import { iamConnection } from '@rds-iam/knex';
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  adminQuery,
  createIamUser,
  databaseFor,
  ENGINES,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';

// @rds-iam/knex end to end: knex 3.3 with its `pg` and `mysql2` clients, logging in through the
// emulator (which checks every token the way RDS does) to the real PostgreSQL / MariaDB behind it.
// Time is moved with the harness clock: the emulator and the token provider's `now` both follow it.

const MINUTE = 60_000;
const CLIENT = { postgres: 'pg', mysql: 'mysql2' } as const;
/** How each engine words a rejected login (the emulator words it as RDS does). */
const REJECTION = {
  postgres: /PAM authentication failed for user/,
  mysql: /Access denied for user .* \(using password: YES\)/,
} as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Counts what the token provider reports. */
function eventLog() {
  const events: TokenEvent[] = [];
  return {
    events,
    onEvent: (e: TokenEvent) => {
      events.push(e);
    },
    count: (type: TokenEvent['type']) => events.filter((e) => e.type === type).length,
    types: () => events.filter((e) => e.type !== 'hit').map((e) => e.type),
  };
}

interface Note {
  id: number;
  body: string;
  author: string | null;
}

/** Migrations as a knex migrationSource object: table `table`, then a column added to it. */
function migrationSource(table: string): Knex.MigrationSource<string> {
  return {
    getMigrations: async () => ['001_create_notes', '002_add_author'],
    getMigrationName: (name) => name,
    getMigration: async (name) =>
      name === '001_create_notes'
        ? {
            up: (db) =>
              db.schema.createTable(table, (t) => {
                t.increments('id');
                t.string('body', 200).notNullable();
              }),
            down: (db) => db.schema.dropTable(table),
          }
        : {
            up: (db) => db.schema.alterTable(table, (t) => t.string('author', 100).nullable()),
            down: (db) => db.schema.alterTable(table, (t) => t.dropColumn('author')),
          },
  };
}

for (const engine of ENGINES) {
  const realServer = databaseFor(engine)?.enforcesLoginUser === true;

  describe.runIf(hasDatabase(engine))(`knex (${CLIENT[engine]}) through the emulator`, () => {
    let iam: IamEndpoint;
    let app: IamUser;
    const open: Knex[] = [];

    beforeAll(async () => {
      [iam, app] = await Promise.all([
        startIamEndpoint(engine),
        createIamUser(engine, { database: true }),
      ]);
    });
    afterAll(async () => {
      await Promise.all(open.splice(0).map((db) => db.destroy().catch(() => undefined)));
      await iam.stop();
      await app.drop();
    });

    /**
     * iamConnection() for the emulator: dial 127.0.0.1, sign for the endpoint's RDS name, trust the
     * emulator's CA. Each call gets its own `now` (same clock) unless one is given, so each test has
     * its own token cache and its own event counts.
     */
    function connection(
      extra: Record<string, unknown> = {},
    ): Knex.PgConnectionConfig | Knex.MySql2ConnectionConfig {
      const options = {
        host: iam.host,
        port: iam.port,
        user: app.user,
        database: app.database,
        region: iam.region,
        signingHost: iam.endpoint.host,
        signingPort: iam.endpoint.port,
        credentials: iam.credentials,
        ssl: { ca: iam.ca },
        now: () => iam.clock.now(),
        ...extra,
      };
      return engine === 'postgres'
        ? iamConnection(options)
        : iamConnection({ ...options, client: 'mysql2' });
    }

    function createKnex(config: Omit<Knex.Config, 'client'>): Knex {
      // knex logs every connection the server closed and every failed acquire; the tests assert on
      // those instead.
      const quiet = () => undefined;
      const log = { warn: quiet, error: quiet, debug: quiet, deprecate: quiet };
      const db = knexFactory({ client: CLIENT[engine], log, ...config });
      open.push(db);
      return db;
    }

    async function destroy(db: Knex): Promise<void> {
      open.splice(open.indexOf(db), 1);
      await db.destroy();
    }

    /** The server-side id of the session `q` runs on (backend pid / CONNECTION_ID). */
    async function sessionId(q: Knex | Knex.Transaction): Promise<number> {
      if (engine === 'postgres') {
        const result = await q.raw<{ rows: { id: number }[] }>('SELECT pg_backend_pid() AS id');
        return Number(result.rows[0]?.id);
      }
      const [rows] = await q.raw<[{ id: number }[]]>('SELECT CONNECTION_ID() AS id');
      return Number(rows?.[0]?.id);
    }

    /** Ends session `id` from the server side and waits until the emulator has closed it too. */
    async function killSession(id: number): Promise<void> {
      const before = iam.emulator.counters().connectionsActive;
      if (engine === 'postgres') {
        await adminQuery(iam.database, 'SELECT pg_terminate_backend($1)', [id]);
      } else {
        await adminQuery(iam.database, `KILL CONNECTION ${Number(id)}`);
      }
      // Gone on the server, and its client socket closed by the emulator (the driver sees the end of
      // the stream right after).
      const onServer = (): Promise<unknown[]> =>
        engine === 'postgres'
          ? adminQuery(iam.database, 'SELECT 1 FROM pg_stat_activity WHERE pid = $1', [id])
          : adminQuery(iam.database, 'SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?', [
              id,
            ]);
      const deadline = Date.now() + 10_000;
      while ((await onServer()).length > 0) {
        if (Date.now() > deadline) throw new Error(`session ${id} is still on the server`);
        await sleep(10);
      }
      await waitFor(
        () => iam.emulator.counters().connectionsActive < before,
        `session ${id} to close`,
      );
      await sleep(50);
    }

    /** Physical connections a knex pool opened. */
    function countCreates(db: Knex): () => number {
      let created = 0;
      (db.client as { pool: { on(e: string, f: () => void): void } }).pool.on(
        'createSuccess',
        () => {
          created++;
        },
      );
      return () => created;
    }

    test('migrations (migrationSource), queries and transactions', async () => {
      iam.emulator.resetCounters();
      const log = eventLog();
      const db = createKnex({
        connection: connection({ onEvent: log.onEvent }),
        pool: { min: 0, max: 4 },
        migrations: { migrationSource: migrationSource('notes'), tableName: 'knex_migrations_e2e' },
      });

      const [batch, applied] = (await db.migrate.latest()) as [number, string[]];
      expect(batch).toBe(1);
      expect(applied).toEqual(['001_create_notes', '002_add_author']);
      // knex reports the version as the leading digits of the last migration's name.
      expect(await db.migrate.currentVersion()).toBe('002');
      expect(await db.schema.hasColumn('notes', 'author')).toBe(true);

      await db('notes').insert([
        { body: 'first', author: 'ann' },
        { body: 'second', author: 'bob' },
      ]);
      const rows = await db<Note>('notes').select('body', 'author').orderBy('id');
      expect(rows).toEqual([
        { body: 'first', author: 'ann' },
        { body: 'second', author: 'bob' },
      ]);

      // A committed and a rolled-back transaction.
      await db.transaction(async (trx) => {
        await trx('notes').insert({ body: 'third', author: 'cy' });
      });
      await expect(
        db.transaction(async (trx) => {
          await trx('notes').insert({ body: 'never', author: 'dee' });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      const bodies = (await db<Note>('notes').pluck('body')).sort();
      expect(bodies).toEqual(['first', 'second', 'third']);

      // Logged in as the IAM user, in its database.
      if (realServer) {
        const who =
          engine === 'postgres'
            ? (
                await db.raw<{ rows: { u: string; d: string }[] }>(
                  'SELECT session_user AS u, current_database() AS d',
                )
              ).rows[0]
            : (
                await db.raw<[{ u: string; d: string }[]]>(
                  "SELECT SUBSTRING_INDEX(USER(), '@', 1) AS u, DATABASE() AS d",
                )
              )[0]?.[0];
        expect(who).toEqual({ u: app.user, d: app.database });
      }

      await db.migrate.rollback(undefined, true);
      expect(await db.schema.hasTable('notes')).toBe(false);

      const counters = iam.emulator.counters();
      expect(counters.rejected).toBe(0);
      expect(counters.accepted).toBeGreaterThanOrEqual(1);
      // One token for every connection knex opened: no mint per connection, no refresh.
      expect(log.count('minted')).toBe(1);
      await destroy(db);
    });

    test.runIf(realServer)(
      '16 minutes of pool churn: no failed query, busy and idle connections survive the refresh',
      async () => {
        iam.emulator.resetCounters();
        const log = eventLog();
        // One `now` for both pools, so they share one token cache as two knex instances in one
        // process with the same endpoint, user and credentials do.
        const now = () => iam.clock.now();
        const churny = createKnex({
          connection: connection({ now, onEvent: log.onEvent }),
          pool: { min: 0, max: 4, idleTimeoutMillis: 250, reapIntervalMillis: 50 },
          migrations: {
            migrationSource: migrationSource('churn_notes'),
            tableName: 'knex_migrations_churn',
          },
        });
        const steady = createKnex({
          connection: connection({ now, onEvent: log.onEvent }),
          pool: { min: 0, max: 1, idleTimeoutMillis: 600_000 },
        });
        const churnyCreates = countCreates(churny);
        const steadyCreates = countCreates(steady);
        await churny.migrate.latest();

        const failures: unknown[] = [];
        const attempt = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
          try {
            return await fn();
          } catch (err) {
            failures.push(err);
            return undefined;
          }
        };
        // A connection kept busy for the whole window (an open transaction), and an idle one.
        const trx = await churny.transaction();
        const busyId = await sessionId(trx);
        const steadyId = await sessionId(steady);
        const busyIds: (number | undefined)[] = [];
        const steadyIds: (number | undefined)[] = [];
        let killed = 0;

        for (let minute = 1; minute <= 16; minute++) {
          iam.clock.advance(MINUTE);
          await Promise.all(
            [1, 2, 3, 4].map((i) =>
              attempt(async () => {
                await churny('churn_notes').insert({ body: `m${minute}-${i}` });
                return churny('churn_notes').count({ n: '*' });
              }),
            ),
          );
          busyIds.push(await attempt(() => sessionId(trx)));
          steadyIds.push(await attempt(() => sessionId(steady)));
          if (minute % 5 === 0) {
            // The server ends one of the pool's idle connections (failover, idle timeout, KILL).
            const victim = await attempt(() => sessionId(churny));
            if (victim !== undefined && victim !== busyId) {
              await killSession(victim);
              killed++;
            }
          }
          // Let the pool's idle timeout close the rest now and then.
          if (minute % 4 === 2) await sleep(450);
        }
        await trx('churn_notes').insert({ body: 'inside the long transaction' });
        await trx.commit();

        expect(failures).toEqual([]);
        expect(killed).toBe(3);
        // The busy connection and the idle one are the same sessions after the token they logged in
        // with has expired: nothing destroys a healthy connection because its token was refreshed.
        expect(new Set(busyIds)).toEqual(new Set([busyId]));
        expect(new Set(steadyIds)).toEqual(new Set([steadyId]));
        expect(steadyCreates()).toBe(1);

        const counters = iam.emulator.counters();
        expect(counters.rejected).toBe(0);
        expect(counters.accepted).toBe(churnyCreates() + steadyCreates());
        // The first token expired at minute 15 on the emulator's clock, and the connections opened
        // after it logged in: they were given a token minted after the clock moved.
        expect(churnyCreates()).toBeGreaterThan(6);
        const mints = log.count('minted');
        expect(mints).toBeGreaterThanOrEqual(2);
        expect(mints).toBeLessThanOrEqual(3);
        expect(log.count('invalidated')).toBe(0);
        expect(await churny('churn_notes').count({ n: '*' })).toEqual([
          { n: engine === 'postgres' ? '65' : 65 },
        ]);
        await Promise.all([destroy(churny), destroy(steady)]);
      },
    );

    test.runIf(realServer)(
      'a busy hour: mints stay bounded by new connections, no refresh loop',
      async () => {
        iam.emulator.resetCounters();
        const log = eventLog();
        const db = createKnex({
          connection: connection({ onEvent: log.onEvent }),
          pool: { min: 0, max: 3, idleTimeoutMillis: 150, reapIntervalMillis: 50 },
        });
        const creates = countCreates(db);
        const failures: unknown[] = [];
        let killed = 0;
        for (let step = 1; step <= 30; step++) {
          iam.clock.advance(2 * MINUTE);
          await Promise.all(
            [1, 2, 3].map(() =>
              db.raw('SELECT 1 AS one').catch((err: unknown) => failures.push(err)),
            ),
          );
          if (step % 3 === 0) {
            const victim = await sessionId(db);
            await killSession(victim);
            killed++;
          }
          if (step % 5 === 0) await sleep(300);
        }
        expect(failures).toEqual([]);
        expect(killed).toBe(10);
        const counters = iam.emulator.counters();
        const mints = log.count('minted');
        expect(counters.rejected).toBe(0);
        expect(counters.accepted).toBe(creates());
        // A token lives 15 minutes and is refreshed from minute 10 on, when a connection asks: about
        // one mint per 10 minutes, never one per connection, never a loop.
        expect(creates()).toBeGreaterThan(mints);
        expect(mints).toBeGreaterThanOrEqual(4);
        expect(mints).toBeLessThanOrEqual(7);
        await destroy(db);
      },
    );

    test('a server rejection fails that acquire; the next one mints and succeeds, no loop', async () => {
      iam.emulator.resetCounters();
      const log = eventLog();
      const db = createKnex({
        connection: connection({ onEvent: log.onEvent }),
        pool: { min: 0, max: 2 },
      });
      // Warm up: a token is cached and a connection is open.
      await db.raw('SELECT 1 AS one');
      expect(log.types()).toEqual(['minted']);
      // Drop the pool's connections so that the next query needs a new one.
      const first = await sessionId(db);
      iam.emulator.rejectNextLogins(1);
      await killSession(first);

      // knex's pool propagates the failed connect: this query fails with the server's error...
      const err = await db.raw('SELECT 1 AS one').then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(REJECTION[engine]);
      // ...the driver hook saw the rejection and dropped that token...
      expect(log.types()).toEqual(['minted', 'invalidated']);
      // ...so the next query opens a connection with a freshly minted token.
      await db.raw('SELECT 1 AS one');
      expect(log.types()).toEqual(['minted', 'invalidated', 'minted']);
      // And that is all: more queries reuse the connection, no further mints, no retries.
      for (let i = 0; i < 5; i++) await db.raw('SELECT 1 AS one');
      await sleep(100);
      expect(log.count('minted')).toBe(2);
      expect(iam.emulator.counters()).toMatchObject({
        accepted: 2,
        rejected: 1,
        rejectedByReason: { injected: 1 },
      });
      await destroy(db);
    });

    if (engine === 'mysql') {
      test('mysql2 resumes the TLS session for later connections: they log in too', async () => {
        iam.emulator.resetCounters();
        const resumed: boolean[] = [];
        const db = createKnex({
          connection: connection(),
          pool: {
            min: 0,
            max: 1,
            afterCreate: (
              conn: { stream?: { isSessionReused?: () => boolean } },
              done: () => void,
            ) => {
              resumed.push(conn.stream?.isSessionReused?.() === true);
              done();
            },
          },
        });
        await db.raw('SELECT 1 AS one');
        // Give the server's session ticket time to arrive, then make the pool open a new connection.
        await sleep(100);
        await killSession(await sessionId(db));
        await db.raw('SELECT 1 AS one');
        // mysql2 (3.2x) caches TLS sessions per `ssl` object and resumes them. A resumed session has
        // no peer certificate to check the name on; it continues a full handshake that was checked.
        expect(resumed).toEqual([false, true]);
        expect(iam.emulator.counters()).toMatchObject({ accepted: 2, rejected: 0 });
        await destroy(db);
      });
    }

    test("why not knex's expirationChecker: it destroys healthy idle connections, and loops", async () => {
      iam.emulator.resetCounters();
      // knex >= 3.2 takes `connection` as an async function returning settings plus an
      // `expirationChecker`; while the checker says "expired", every acquire refreshes the settings
      // and fails the validation of the connection it was about to hand out.
      let refreshes = 0;
      let validUntil = 0;
      let expiredAfterRefresh = false;
      const settings = async () => {
        refreshes++;
        validUntil = iam.clock.now() + 10 * MINUTE;
        return {
          ...connection(),
          expirationChecker: () => expiredAfterRefresh || iam.clock.now() >= validUntil,
        };
      };
      const db = createKnex({
        connection: settings as unknown as Knex.Config['connection'],
        pool: { min: 0, max: 1 },
        acquireConnectionTimeout: 1_500,
      });
      const creates = countCreates(db);
      const before = await sessionId(db);
      iam.clock.advance(11 * MINUTE);
      // 1. The idle connection is healthy, but the refresh destroys it and opens another.
      const after = await sessionId(db);
      expect(after).not.toBe(before);
      expect(creates()).toBe(2);

      // 2. A checker that still says "expired" right after a refresh (a token's expiry read with a
      // margin, a skewed clock): each new connection fails validation too and knex opens the next
      // one, in a loop, until the acquire times out.
      expiredAfterRefresh = true;
      const [createsBefore, refreshesBefore] = [creates(), refreshes];
      const error = await sessionId(db).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toMatch(/Timeout acquiring a connection/);
      expect(creates() - createsBefore).toBeGreaterThan(5);
      expect(refreshes - refreshesBefore).toBeGreaterThan(creates() - createsBefore);
      // Every one of those connections was a real login (one may still be in flight).
      expect(iam.emulator.counters().accepted).toBeGreaterThanOrEqual(creates());
      await destroy(db);
    });

    test('TLS: an unknown CA is refused before the token is sent', async () => {
      iam.emulator.resetCounters();
      const log = eventLog();
      // No `ssl`: verified against the RDS CAs, which did not sign the emulator's certificate.
      const db = createKnex({
        connection: connection({ ssl: undefined, onEvent: log.onEvent }),
        pool: { min: 0, max: 1 },
        acquireConnectionTimeout: 20_000,
      });
      const err = await db.raw('SELECT 1 AS one').then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
      expect(err).toBeDefined();
      expect(err?.message).toMatch(/certificate/i);
      expect(err?.message).not.toMatch(/X-Amz-Signature/);
      // The emulator never saw a password: no login was accepted or rejected.
      expect(iam.emulator.counters()).toMatchObject({ accepted: 0, rejected: 0 });
      expect(log.count('invalidated')).toBe(0);
      await destroy(db);
    });

    test('`ssl: false` towards a non-loopback host and bad options: RdsIamError before connecting', () => {
      iam.emulator.resetCounters();
      const host = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
      const client = engine === 'postgres' ? ('pg' as const) : ('mysql2' as const);
      const base = { host, user: 'app', credentials: iam.credentials };
      const cases: [string, () => unknown, string][] = [
        [
          'ssl: false',
          () => iamConnection({ ...base, client: 'mysql2', ssl: false }),
          'ERR_TLS_REQUIRED',
        ],
        ['ssl: false (pg)', () => iamConnection({ ...base, ssl: false }), 'ERR_TLS_REQUIRED'],
        [
          'a password',
          () => iamConnection({ ...base, client, password: 'secret' } as never),
          'ERR_CONFLICTING_OPTIONS',
        ],
        [
          'no host',
          () => iamConnection({ ...base, client, host: '' } as never),
          'ERR_INVALID_HOST',
        ],
        [
          'no user',
          () => iamConnection({ ...base, client, user: '' } as never),
          'ERR_INVALID_USER',
        ],
        [
          'a bad port',
          () => iamConnection({ ...base, client, port: 70_000 } as never),
          'ERR_INVALID_PORT',
        ],
        [
          'an unknown client',
          () => iamConnection({ ...base, client: 'oracledb' } as never),
          'ERR_INVALID_OPTION',
        ],
      ];
      for (const [what, make, code] of cases) {
        let thrown: unknown;
        try {
          make();
        } catch (err) {
          thrown = err;
        }
        expect(thrown, what).toBeInstanceOf(RdsIamError);
        expect((thrown as RdsIamError).code, what).toBe(code);
      }
      // Loopback without TLS is allowed (an emulator, a tunnel's local end).
      expect(() => connection({ ssl: false })).not.toThrow();
      expect(iam.emulator.counters().connectionsOpened).toBe(0);
    });
  });
}
