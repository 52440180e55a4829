import { iamConnection } from '@rds-iam/knex';
import knexFactory, { type Knex } from 'knex';
import { describe, expect, test, vi } from 'vitest';
import { ENGINES, hasDatabase } from '../harness/index.js';
import { eventLog, MINUTE, type Row } from './driver-support.js';
import {
  busyHour,
  type Note,
  notesRoundTrip,
  optionErrorsBeforeConnecting,
  poolChurn,
  rejectedOnceRetried,
  rejectedTwiceThenRecovers,
  sleep,
  unknownCaRefused,
  useOrmEndpoint,
} from './orm-scenarios.js';

// @rds-iam/knex end to end: knex 3.3 with its `pg` and `mysql2` clients, logging in through the
// emulator (which checks every token the way RDS does) to the real PostgreSQL / MariaDB behind it.
// Time is moved with the harness clock: the emulator and the token provider's `now` both follow it.
// The scenarios TypeORM passes too live in orm-scenarios.ts; knex's own ones stay here.

const CLIENT = { postgres: 'pg', mysql: 'mysql2' } as const;

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
  describe.runIf(hasDatabase(engine))(`knex (${CLIENT[engine]}) through the emulator`, () => {
    const orm = useOrmEndpoint<Knex, Knex.Transaction>({
      engine,
      async firstRow(q, sql) {
        if (engine === 'postgres') return (await q.raw<{ rows: Row[] }>(sql)).rows[0];
        const [rows] = await q.raw<[Row[]]>(sql);
        return rows?.[0];
      },
      close: (db) => db.destroy(),
    });
    const { realServer } = orm;

    /** iamConnection() for the emulator: `orm.options()` (a `now` of its own), `extra` on top. */
    function connection(
      extra: Record<string, unknown> = {},
    ): () => Knex.PgConnectionConfig | Knex.MySql2ConnectionConfig {
      const options = { ...orm.options(), ...extra };
      return engine === 'postgres'
        ? iamConnection(options)
        : iamConnection({ ...options, client: 'mysql2' });
    }

    function createKnex(config: Omit<Knex.Config, 'client'>): Knex {
      // knex logs every connection the server closed and every failed acquire; the tests assert on
      // those instead.
      const quiet = () => undefined;
      const log = { warn: quiet, error: quiet, debug: quiet, deprecate: quiet };
      return orm.track(knexFactory({ client: CLIENT[engine], log, ...config }));
    }

    /** Physical connections a knex pool opened. */
    type TarnPool = { on(e: string, f: () => void): void; numPendingCreates(): number };
    /**
     * Counts the connections `db`'s pool opened. `settled()` first waits until none is being opened:
     * tarn may start one for an acquire that a released connection then serves, and the emulator
     * counts that login as soon as it verifies the token, before the pool has the connection.
     */
    function countCreates(db: Knex): { (): number; settled(): Promise<number> } {
      const pool = (db.client as { pool: TarnPool }).pool;
      let created = 0;
      pool.on('createSuccess', () => {
        created++;
      });
      return Object.assign(() => created, {
        async settled() {
          await vi.waitFor(() => expect(pool.numPendingCreates()).toBe(0), { timeout: 10_000 });
          return created;
        },
      });
    }

    test('migrations (migrationSource), queries and transactions', async () => {
      orm.iam.emulator.resetCounters();
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

      await notesRoundTrip(orm, db, {
        insert: (notes) => db('notes').insert(notes),
        list: () => db<Note>('notes').select('body', 'author').orderBy('id'),
        bodies: () => db<Note>('notes').pluck('body'),
        transaction: (work) => db.transaction((trx) => work((note) => trx('notes').insert(note))),
      });

      await db.migrate.rollback(undefined, true);
      expect(await db.schema.hasTable('notes')).toBe(false);

      const counters = orm.iam.emulator.counters();
      expect(counters.rejected).toBe(0);
      expect(counters.accepted).toBeGreaterThanOrEqual(1);
      // One token for every connection knex opened: no mint per connection, no refresh.
      expect(log.count('minted')).toBe(1);
      await orm.destroy(db);
    });

    test.runIf(realServer)(
      '16 minutes of pool churn: no failed query, busy and idle connections survive the refresh',
      async () => {
        orm.iam.emulator.resetCounters();
        const log = eventLog();
        // One `now` for both pools, so they share one token cache as two knex instances in one
        // process with the same endpoint, user and credentials do.
        const now = () => orm.iam.clock.now();
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
        const trx = await churny.transaction();

        await poolChurn(orm, log, {
          churny,
          steady,
          busy: trx,
          traffic: async (body) => {
            await churny('churn_notes').insert({ body });
            return churny('churn_notes').count({ n: '*' });
          },
          commitBusy: async (body) => {
            await trx('churn_notes').insert({ body });
            await trx.commit();
          },
          pauseAfter: (minute) => (minute % 4 === 2 ? 450 : 0),
        });

        const [churnyCreated, steadyCreated] = [
          await churnyCreates.settled(),
          await steadyCreates.settled(),
        ];
        expect(steadyCreated).toBe(1);
        expect(orm.iam.emulator.counters().accepted).toBe(churnyCreated + steadyCreated);
        // The first token expired at minute 15 on the emulator's clock, and the connections opened
        // after it logged in: they were given a token minted after the clock moved.
        expect(churnyCreated).toBeGreaterThan(6);
        expect(await churny('churn_notes').count({ n: '*' })).toEqual([
          { n: engine === 'postgres' ? '65' : 65 },
        ]);
        await Promise.all([orm.destroy(churny), orm.destroy(steady)]);
      },
    );

    test.runIf(realServer)(
      'a busy hour: mints stay bounded by new connections, no refresh loop',
      async () => {
        orm.iam.emulator.resetCounters();
        const log = eventLog();
        const db = createKnex({
          connection: connection({ onEvent: log.onEvent }),
          pool: { min: 0, max: 3, idleTimeoutMillis: 150, reapIntervalMillis: 50 },
        });
        const creates = countCreates(db);
        await busyHour(orm, log, db, (step) => (step % 5 === 0 ? 300 : 0));
        const created = await creates.settled();
        expect(orm.iam.emulator.counters().accepted).toBe(created);
        expect(created).toBeGreaterThan(log.count('minted'));
        await orm.destroy(db);
      },
    );

    test('a server rejection is retried once inside the acquire: the query succeeds, no loop', async () => {
      orm.iam.emulator.resetCounters();
      const log = eventLog();
      const db = createKnex({
        connection: connection({ onEvent: log.onEvent }),
        pool: { min: 0, max: 2 },
      });
      // Warm up: a token is cached and a connection is open.
      await db.raw('SELECT 1 AS one');
      await rejectedOnceRetried(orm, log, db);
      expect(orm.iam.emulator.counters()).toMatchObject({ accepted: 2 });
      const err = await rejectedTwiceThenRecovers(orm, db);
      expect(err).toMatchObject({ code: 'ERR_AUTH_REJECTED' });
      expect(orm.iam.emulator.counters()).toMatchObject({ accepted: 3, rejected: 3 });
      await orm.destroy(db);
    });

    if (engine === 'mysql') {
      test('mysql2 resumes the TLS session for later connections: they log in too', async () => {
        orm.iam.emulator.resetCounters();
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
        await orm.killSession(await orm.sessionId(db));
        await db.raw('SELECT 1 AS one');
        // mysql2 (3.2x) caches TLS sessions per `ssl` object and resumes them. A resumed session has
        // no peer certificate to check the name on; it continues a full handshake that was checked.
        expect(resumed).toEqual([false, true]);
        expect(orm.iam.emulator.counters()).toMatchObject({ accepted: 2, rejected: 0 });
        await orm.destroy(db);
      });
    }

    test("why not knex's expirationChecker: it destroys healthy idle connections, and loops", async () => {
      const { iam } = orm;
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
          // Settings, as knex would get them from iamConnection()'s provider.
          ...connection()(),
          expirationChecker: () => expiredAfterRefresh || iam.clock.now() >= validUntil,
        };
      };
      const db = createKnex({
        connection: settings as unknown as Knex.Config['connection'],
        pool: { min: 0, max: 1 },
        acquireConnectionTimeout: 1_500,
      });
      const creates = countCreates(db);
      const before = await orm.sessionId(db);
      iam.clock.advance(11 * MINUTE);
      // 1. The idle connection is healthy, but the refresh destroys it and opens another.
      const after = await orm.sessionId(db);
      expect(after).not.toBe(before);
      expect(creates()).toBe(2);

      // 2. A checker that still says "expired" right after a refresh (a token's expiry read with a
      // margin, a skewed clock): each new connection fails validation too and knex opens the next
      // one, in a loop, until the acquire times out.
      expiredAfterRefresh = true;
      const [createsBefore, refreshesBefore] = [creates(), refreshes];
      const error = await orm.sessionId(db).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toMatch(/Timeout acquiring a connection/);
      expect(creates() - createsBefore).toBeGreaterThan(5);
      expect(refreshes - refreshesBefore).toBeGreaterThan(creates() - createsBefore);
      // Every one of those connections was a real login (one may still be in flight).
      expect(iam.emulator.counters().accepted).toBeGreaterThanOrEqual(creates());
      await orm.destroy(db);
    });

    test('TLS: an unknown CA is refused before the token is sent', async () => {
      orm.iam.emulator.resetCounters();
      const log = eventLog();
      // No `ssl`: verified against the RDS CAs, which did not sign the emulator's certificate.
      const db = createKnex({
        connection: connection({ ssl: undefined, onEvent: log.onEvent }),
        pool: { min: 0, max: 1 },
        acquireConnectionTimeout: 20_000,
      });
      // Translated by the retry path knex's connections now go through: a code and what to fix.
      const err = await unknownCaRefused(orm, db.raw('SELECT 1 AS one'));
      expect(err).toBeDefined();
      expect(err.message).not.toMatch(/X-Amz-Signature/);
      expect(log.count('invalidated')).toBe(0);
      await orm.destroy(db);
    });

    test('`ssl: false` towards a non-loopback host and bad options: RdsIamError before connecting', () => {
      orm.iam.emulator.resetCounters();
      const host = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
      const client = engine === 'postgres' ? ('pg' as const) : ('mysql2' as const);
      const base = { host, user: 'app', credentials: orm.iam.credentials };
      optionErrorsBeforeConnecting(
        orm,
        [
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
        ],
        () => connection({ ssl: false }),
      );
    });
  });
}
