import { EntitySchema, type IDatabaseDriver, MikroORM } from '@mikro-orm/core';
import { MariaDbDriver } from '@mikro-orm/mariadb';
import { MySqlDriver } from '@mikro-orm/mysql';
import { type EntityManager, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { iamMikroOrmOptions } from '@rds-iam/mikro-orm';
import { afterAll, describe, expect, test } from 'vitest';
import { connectionLossLog, type Engine, hasDatabase, startIamEndpoint } from '../harness/index.js';
import { MIKRO_ORM_MAJOR } from '../harness/mikro-orm.js';
import { eventLog, type Row, waitFor } from './driver-support.js';
import {
  busyHour,
  coldStorm,
  type Note,
  noTokenText,
  notesRoundTrip,
  optionErrorsBeforeConnecting,
  poolChurn,
  rejectedOnceRetried,
  rejectedTwiceThenRecovers,
  STORM,
  slowCredentials,
  unknownCaRefused,
  useOrmEndpoint,
} from './orm-scenarios.js';

// @rds-iam/mikro-orm end to end: MikroORM with the PostgreSQL, MySQL and MariaDB drivers, logging
// in through the emulator (which checks every token the way RDS does) to the real PostgreSQL /
// MariaDB behind it. Time is moved with the harness clock. The scenarios every ORM passes live in
// orm-scenarios.ts. test/ runs this file with MikroORM 6 (knex over pg, mysql2 and the mariadb
// connector), test/mikro-orm-7 with MikroORM 7 (Kysely over pg and mysql2).

type Driver = new (...args: never[]) => IDatabaseDriver;
const TARGETS = [
  { name: 'PostgreSqlDriver', driver: PostgreSqlDriver, engine: 'postgres' },
  { name: 'MySqlDriver', driver: MySqlDriver, engine: 'mysql' },
  { name: 'MariaDbDriver', driver: MariaDbDriver, engine: 'mysql' },
] as const satisfies readonly { name: string; driver: Driver; engine: Engine }[];

const schemas = new Map<string, EntitySchema<Note>>();

/**
 * The notes entity, without decorators, on table `table`: one instance per table, the one the ORM
 * was given (MikroORM 7 reads an EntitySchema's metadata from the instance a query names).
 */
function noteSchema(table: string): EntitySchema<Note> {
  const known = schemas.get(table);
  if (known) return known;
  const schema = new EntitySchema<Note>({
    name: 'Note',
    tableName: table,
    properties: {
      id: { type: 'number', primary: true, autoincrement: true },
      body: { type: 'string', length: 200 },
      author: { type: 'string', length: 100, nullable: true },
    },
  });
  schemas.set(table, schema);
  return schema;
}

/** Drops and creates the entities' tables (MikroORM 7 renamed dropSchema and createSchema). */
async function freshSchema(mikro: MikroORM): Promise<void> {
  const schema = mikro.schema as unknown as Record<string, () => Promise<void>>;
  const names = MIKRO_ORM_MAJOR >= 7 ? ['drop', 'create'] : ['dropSchema', 'createSchema'];
  for (const name of names) await (schema[name] as () => Promise<void>).call(schema);
}

/** A MikroORM instance or a forked EntityManager inside a transaction. */
type Em = EntityManager;

for (const { name, driver, engine } of TARGETS) {
  const title = `MikroORM ${MIKRO_ORM_MAJOR} (${name}) through the emulator`;
  describe.runIf(hasDatabase(engine))(title, () => {
    const orm = useOrmEndpoint<MikroORM, Em>({
      engine,
      firstRow: async (on, sql) => {
        const em = (on instanceof MikroORM ? on.em.fork() : on) as Em;
        const rows = await em.getConnection().execute(sql, [], 'all', em.getTransactionContext());
        return (rows as Row[])[0];
      },
      close: (mikro) => mikro.close(true),
    });
    const { realServer } = orm;
    // MikroORM 6's knex warns "Connection Error: ..." for each pooled connection the server ends
    // (the churn and the busy hour end sessions on purpose): kept here and asserted, not printed.
    const knexLog = connectionLossLog();
    afterAll(() => {
      expect(knexLog.unexpected()).toEqual([]);
    });

    /**
     * MikroORM for the emulator: `orm.options()` (a `now` of its own), `options` on top. Connected, as
     * MikroORM 6's `init` does unless `connect: false` (MikroORM 7's connects at the first query).
     */
    async function init(options: Record<string, unknown> = {}): Promise<MikroORM> {
      const { database, ...rest } = orm.options();
      const mikro = orm.track(
        await MikroORM.init(
          iamMikroOrmOptions({
            ...rest,
            dbName: database,
            driver,
            entities: [noteSchema('notes')],
            allowGlobalContext: true,
            debug: false,
            // knex's log (MikroORM 6); MikroORM 7 has no knex, and pg's Pool takes `log` as a function.
            ...(MIKRO_ORM_MAJOR < 7 ? { driverOptions: { log: knexLog.log } } : {}),
            ...options,
          } as never),
        ),
      );
      if (MIKRO_ORM_MAJOR >= 7 && options.connect !== false) await orm.firstRow(mikro, 'SELECT 1');
      return mikro;
    }

    /**
     * Pool settings: `max` connections; idle ones closed after `idleMs`, or kept (`undefined`): by
     * knex's pool for `idleTimeoutMillis` (MikroORM 6), as `min` idle ones by pg's and mysql2's
     * (MikroORM 7 makes `min` mysql2's `maxIdle`, and mysql2 closes idle ones above it every second).
     */
    function pool(max: number, idleMs?: number): { pool: Record<string, number> } {
      const min = idleMs === undefined && MIKRO_ORM_MAJOR >= 7 ? max : 0;
      return {
        pool: { min, max, idleTimeoutMillis: idleMs ?? 600_000, reapIntervalMillis: 50 },
      };
    }

    test('entities (EntitySchema), a schema, queries and transactions', async () => {
      orm.iam.emulator.resetCounters();
      const log = eventLog();
      const mikro = await init({ onEvent: log.onEvent });
      await freshSchema(mikro);
      const Notes = noteSchema('notes');
      const em = mikro.em.fork();
      await notesRoundTrip(orm, mikro, {
        insert: (notes) => em.insertMany(Notes, notes as Note[]),
        list: async () =>
          (await em.fork().find(Notes, {}, { orderBy: { id: 'ASC' } })).map(({ body, author }) => ({
            body,
            author,
          })),
        bodies: async () => (await em.fork().find(Notes, {})).map((n) => n.body),
        transaction: (work) =>
          em.fork().transactional(async (tx) => {
            await work((note) => tx.insert(Notes, note as Note));
          }),
      });
      expect(await em.fork().findOne(Notes, { author: 'bob' })).toMatchObject({ body: 'second' });
      expect(orm.iam.emulator.counters().rejected).toBe(0);
      expect(log.count('minted')).toBe(1);
      noTokenText([log.events]);
      await orm.destroy(mikro);
    });

    test("a credential source slower than the driver's own connect timeout: the login waits for it", async () => {
      await slowCredentials(orm, (iam) => init({ ...iam, ...pool(2) }));
    });

    test(`a cold storm: ${STORM} new connections at once, one credential request, one mint`, async () => {
      await coldStorm(orm, (iam) => init({ ...iam, ...pool(STORM) }));
    });

    test.runIf(realServer)(
      '16 minutes of pool churn: no failed query, busy and idle connections survive the refresh',
      async () => {
        orm.iam.emulator.resetCounters();
        const log = eventLog();
        // One `now` for both instances: they share one token cache.
        const now = () => orm.iam.clock.now();
        const Notes = noteSchema('churn_notes');
        const churny = await init({
          now,
          onEvent: log.onEvent,
          entities: [Notes],
          ...pool(4, 250),
        });
        const steady = await init({ now, onEvent: log.onEvent, ...pool(1) });
        await freshSchema(churny);
        const busy = churny.em.fork();
        await busy.begin();

        await poolChurn(orm, log, {
          churny,
          steady,
          busy,
          traffic: async (body) => {
            const em = churny.em.fork();
            await em.insert(Notes, { body, author: null });
            return em.count(Notes);
          },
          commitBusy: async (body) => {
            await busy.insert(Notes, { body, author: null });
            await busy.commit();
          },
          // tarn reaps idle connections every 50 ms here.
          pauseAfter: (minute) => (minute % 6 === 3 ? 450 : 0),
        });
        expect(orm.iam.emulator.counters().accepted).toBeGreaterThan(5);
        expect(await churny.em.fork().count(Notes)).toBe(65);
        await Promise.all([orm.destroy(churny), orm.destroy(steady)]);
      },
    );

    test.runIf(realServer)(
      'a busy hour: mints stay bounded by new connections, no refresh loop',
      async () => {
        orm.iam.emulator.resetCounters();
        const log = eventLog();
        const mikro = await init({ onEvent: log.onEvent, ...pool(3, 150) });
        // MikroORM 6: knex's pool may be opening a connection for an acquire a released one then
        // served: let that login finish before the clock jumps 2 minutes (the mariadb connector takes
        // its token before it dials, so a jump mid-login would expire it; real time never jumps).
        // MikroORM 7's pg and mysql2 pools open connections only for a waiting query.
        const tarn =
          MIKRO_ORM_MAJOR === 6
            ? ((mikro.em as Em).getConnection().getKnex().client.pool as {
                numPendingCreates(): number;
              })
            : undefined;
        await busyHour(orm, log, mikro, () =>
          tarn ? waitFor(() => tarn.numPendingCreates() === 0, 'pending logins', 10_000) : 0,
        );
        expect(orm.iam.emulator.counters().accepted).toBeGreaterThan(log.count('minted'));
        await orm.destroy(mikro);
      },
    );

    test('replicas: the writer and a read replica each log in with a token signed for their own host', async () => {
      orm.iam.emulator.resetCounters();
      const replica = await startIamEndpoint(engine, {
        clock: orm.iam.clock,
        endpointHost: 'replica.cluster-ro-abc123xyz.us-east-1.rds.amazonaws.com',
      });
      try {
        const log = eventLog();
        const Notes = noteSchema('replicated_notes');
        const mikro = await init({
          onEvent: log.onEvent,
          entities: [Notes],
          preferReadReplicas: true,
          replicas: [
            {
              host: replica.host,
              port: replica.port,
              signingHost: replica.endpoint.host,
              signingPort: replica.endpoint.port,
              ssl: { ca: replica.ca },
            },
          ],
        });
        await freshSchema(mikro);
        await mikro.em.fork().insert(Notes, { body: 'written', author: null });
        // Reads go to the replica, writes to the writer.
        expect((await mikro.em.fork().find(Notes, {})).map((n) => n.body)).toEqual(['written']);
        for (const endpoint of [orm.iam, replica]) {
          expect(endpoint.emulator.counters()).toMatchObject({ rejected: 0 });
          expect(endpoint.emulator.counters().accepted).toBeGreaterThanOrEqual(1);
        }
        expect(log.count('minted')).toBe(2);
        await orm.destroy(mikro);
      } finally {
        await replica.stop();
      }
    });

    test('a server rejection is retried once inside the acquire: the query succeeds, no loop', async () => {
      orm.iam.emulator.resetCounters();
      const log = eventLog();
      const mikro = await init({ onEvent: log.onEvent, ...pool(1) });
      await rejectedOnceRetried(orm, log, mikro);
      const err = await rejectedTwiceThenRecovers(orm, mikro);
      noTokenText([err, log.events]);
      await orm.destroy(mikro);
    });

    test('TLS: an unknown CA is refused before the token is sent', async () => {
      orm.iam.emulator.resetCounters();
      const log = eventLog();
      // No `ssl`: verified against the RDS CAs, which did not sign the emulator's certificate.
      const mikro = await init({ ssl: undefined, onEvent: log.onEvent, connect: false });
      const err = await unknownCaRefused(orm, orm.firstRow(mikro, 'SELECT 1 AS one'), {
        // MikroORM 6's MariaDbDriver logs in with the mariadb connector.
        emptyLogin: driver === MariaDbDriver && MIKRO_ORM_MAJOR === 6,
      });
      noTokenText([err, log.events]);
      expect(log.count('invalidated')).toBe(0);
      await orm.destroy(mikro);
    });

    test('`ssl: false` towards a non-loopback host and bad options: RdsIamError before connecting', async () => {
      orm.iam.emulator.resetCounters();
      const base = {
        driver,
        host: 'mydb.abc123xyz.us-east-1.rds.amazonaws.com',
        user: 'app',
        dbName: 'app',
        credentials: orm.iam.credentials,
      };
      const cases: [string, Record<string, unknown>, string][] = [
        ['ssl: false', { ssl: false }, 'ERR_TLS_REQUIRED'],
        ['a password', { password: 'secret' }, 'ERR_CONFLICTING_OPTIONS'],
        ['a clientUrl', { clientUrl: `${engine}://app@db.example.com/app` }, 'ERR_INVALID_OPTION'],
        ['no host', { host: '' }, 'ERR_INVALID_HOST'],
        ['no user', { user: '' }, 'ERR_INVALID_USER'],
        ['a bad port', { port: 0 }, 'ERR_INVALID_PORT'],
        [
          'a replica with a password',
          { replicas: [{ host: 'r.example.com', password: 'x' }] },
          'ERR_CONFLICTING_OPTIONS',
        ],
        ['no driver', { driver: undefined }, 'ERR_INVALID_OPTION'],
      ];
      optionErrorsBeforeConnecting(
        orm,
        cases.map(([what, options, code]) => [
          what,
          () => iamMikroOrmOptions({ ...base, ...options } as never),
          code,
        ]),
        () => iamMikroOrmOptions({ ...base, host: '127.0.0.1', ssl: false } as never),
      );
    });
  });
}
