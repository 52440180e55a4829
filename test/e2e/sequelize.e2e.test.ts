import { iamSequelizeOptions } from '@rds-iam/sequelize';
import {
  DataTypes,
  type Model,
  type ModelStatic,
  QueryTypes,
  Sequelize,
  Transaction,
} from 'sequelize';
import { describe, expect, test } from 'vitest';
import { type Engine, hasDatabase, startIamEndpoint } from '../harness/index.js';
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

// @rds-iam/sequelize end to end: Sequelize 6 with dialects postgres, mysql (mysql2) and mariadb (the
// mariadb connector), logging in through the
// emulator (which checks every token the way RDS does) to the real PostgreSQL / MariaDB behind it.
// Time is moved with the harness clock. The scenarios every ORM passes live in orm-scenarios.ts.

const DIALECTS = [
  { dialect: 'postgres', engine: 'postgres' },
  { dialect: 'mysql', engine: 'mysql' },
  { dialect: 'mariadb', engine: 'mysql' },
] as const satisfies readonly { dialect: string; engine: Engine }[];

type NoteModel = ModelStatic<Model<Note, Omit<Note, 'id'>>>;

/** The notes model on table `table`, without timestamps. */
function defineNotes(sequelize: Sequelize, table: string): NoteModel {
  return sequelize.define(
    'Note',
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      body: { type: DataTypes.STRING(200), allowNull: false },
      author: { type: DataTypes.STRING(100), allowNull: true },
    },
    { tableName: table, timestamps: false },
  ) as NoteModel;
}

for (const { dialect, engine } of DIALECTS) {
  describe.runIf(hasDatabase(engine))(
    `Sequelize (dialect: '${dialect}') through the emulator`,
    () => {
      const orm = useOrmEndpoint<Sequelize, Transaction>({
        engine,
        firstRow: async (on, sql) => {
          const rows =
            on instanceof Transaction
              ? await (on as Transaction & { sequelize: Sequelize }).sequelize.query(sql, {
                  type: QueryTypes.SELECT,
                  transaction: on,
                })
              : await on.query(sql, { type: QueryTypes.SELECT });
          return rows[0] as Row | undefined;
        },
        close: (sequelize) => sequelize.close(),
      });
      const { realServer } = orm;

      /** A Sequelize instance for the emulator: `orm.options()` (a `now` of its own), `options` on top. */
      function connect(options: Record<string, unknown> = {}): Sequelize {
        const { user, ...rest } = orm.options();
        return orm.track(
          new Sequelize(
            iamSequelizeOptions({
              ...rest,
              username: user,
              dialect,
              logging: false,
              ...options,
            } as never),
          ),
        );
      }

      /** Pool settings: `max` connections; idle ones closed after `idleMs`, or kept (`undefined`). */
      function pool(max: number, idleMs?: number): { pool: Record<string, number> } {
        return { pool: { max, min: 0, idle: idleMs ?? 600_000, evict: idleMs ? 100 : 1_000 } };
      }

      test('models, queries, transactions and a table created by sync()', async () => {
        orm.iam.emulator.resetCounters();
        const log = eventLog();
        const sequelize = connect({ onEvent: log.onEvent });
        const Notes = defineNotes(sequelize, 'notes');
        await Notes.sync({ force: true });
        await notesRoundTrip(orm, sequelize, {
          insert: (notes) => Notes.bulkCreate(notes),
          list: async () =>
            (await Notes.findAll({ order: [['id', 'ASC']], attributes: ['body', 'author'] })).map(
              (n) => n.get({ plain: true }),
            ),
          bodies: async () => (await Notes.findAll()).map((n) => String(n.get('body'))),
          transaction: (work) =>
            sequelize.transaction(async (transaction) => {
              await work((note) => Notes.create(note, { transaction }));
            }),
        });
        expect((await Notes.findOne({ where: { author: 'bob' } }))?.get('body')).toBe('second');
        expect(orm.iam.emulator.counters().rejected).toBe(0);
        expect(log.count('minted')).toBe(1);
        noTokenText([log.events]);
        await orm.destroy(sequelize);
      });

      test("a credential source slower than the driver's own connect timeout: the login waits for it", async () => {
        await slowCredentials(orm, (iam) => connect({ ...iam, ...pool(2) }));
      });

      test(`a cold storm: ${STORM} new connections at once, one credential request, one mint`, async () => {
        await coldStorm(orm, (iam) => connect({ ...iam, ...pool(STORM) }));
      });

      test.runIf(realServer)(
        '16 minutes of pool churn: no failed query, busy and idle connections survive the refresh',
        async () => {
          orm.iam.emulator.resetCounters();
          const log = eventLog();
          // One `now` for both instances: they share one token cache.
          const now = () => orm.iam.clock.now();
          const churny = connect({ now, onEvent: log.onEvent, ...pool(4, 250) });
          const steady = connect({ now, onEvent: log.onEvent, ...pool(1) });
          const Notes = defineNotes(churny, 'churn_notes');
          await Notes.sync({ force: true });
          await steady.authenticate();
          const busy = await churny.transaction();

          await poolChurn(orm, log, {
            churny,
            steady,
            busy,
            traffic: async (body) => {
              await Notes.create({ body, author: null });
              return Notes.count();
            },
            commitBusy: async (body) => {
              await Notes.create({ body, author: null }, { transaction: busy });
              await busy.commit();
            },
            // Sequelize's pool reaps idle connections every 100 ms here.
            pauseAfter: (minute) => (minute % 6 === 3 ? 450 : 0),
          });
          expect(orm.iam.emulator.counters().accepted).toBeGreaterThan(5);
          expect(await Notes.count()).toBe(65);
          await Promise.all([orm.destroy(churny), orm.destroy(steady)]);
        },
      );

      test.runIf(realServer)(
        'a busy hour: mints stay bounded by new connections, no refresh loop',
        async () => {
          orm.iam.emulator.resetCounters();
          const log = eventLog();
          const sequelize = connect({ onEvent: log.onEvent, ...pool(3, 150) });
          await sequelize.authenticate();
          // The mariadb connector takes its token before it dials: a clock jump must not land while
          // a login is in flight, so each step waits until the pool creates nothing.
          const seqPool = (
            sequelize.connectionManager as unknown as {
              pool: { size: number; available: number; using: number };
            }
          ).pool;
          await busyHour(orm, log, sequelize, () =>
            waitFor(
              () => seqPool.size === seqPool.available + seqPool.using,
              'pending logins',
              10_000,
            ),
          );
          expect(orm.iam.emulator.counters().accepted).toBeGreaterThan(log.count('minted'));
          await orm.destroy(sequelize);
        },
      );

      test('replication: the writer and a read replica each log in with a token signed for their own host', async () => {
        orm.iam.emulator.resetCounters();
        const replica = await startIamEndpoint(engine, {
          clock: orm.iam.clock,
          endpointHost: 'replica.cluster-ro-abc123xyz.us-east-1.rds.amazonaws.com',
        });
        try {
          const log = eventLog();
          const sequelize = connect({
            onEvent: log.onEvent,
            replication: {
              write: {},
              read: [
                {
                  host: replica.host,
                  port: replica.port,
                  signingHost: replica.endpoint.host,
                  signingPort: replica.endpoint.port,
                  ssl: { ca: replica.ca },
                },
              ],
            },
          });
          const Notes = defineNotes(sequelize, 'replicated_notes');
          await Notes.sync({ force: true });
          await Notes.create({ body: 'written', author: null });
          // Reads go to the replica's pool, writes to the writer's.
          expect((await Notes.findAll()).map((n) => n.get('body'))).toEqual(['written']);
          for (const endpoint of [orm.iam, replica]) {
            expect(endpoint.emulator.counters()).toMatchObject({ rejected: 0 });
            expect(endpoint.emulator.counters().accepted).toBeGreaterThanOrEqual(1);
          }
          // One token per signing host.
          expect(log.count('minted')).toBe(2);
          await orm.destroy(sequelize);
        } finally {
          await replica.stop();
        }
      });

      test('a server rejection is retried once inside the connect: the query succeeds, no loop', async () => {
        orm.iam.emulator.resetCounters();
        const log = eventLog();
        const sequelize = connect({ onEvent: log.onEvent, ...pool(1) });
        await sequelize.authenticate();
        await rejectedOnceRetried(orm, log, sequelize);
        const err = await rejectedTwiceThenRecovers(orm, sequelize);
        expect(err.code).toBe('ERR_AUTH_REJECTED');
        noTokenText([err, log.events]);
        await orm.destroy(sequelize);
      });

      test('TLS: an unknown CA is refused before the token is sent', async () => {
        orm.iam.emulator.resetCounters();
        const log = eventLog();
        // No `ssl`: verified against the RDS CAs, which did not sign the emulator's certificate.
        const sequelize = connect({ ssl: undefined, onEvent: log.onEvent });
        const err = await unknownCaRefused(orm, sequelize.authenticate(), {
          emptyLogin: dialect === 'mariadb',
        });
        noTokenText([err, log.events]);
        expect(log.count('invalidated')).toBe(0);
        await orm.destroy(sequelize);
      });

      test('`ssl: false` towards a non-loopback host and bad options: RdsIamError before connecting', () => {
        orm.iam.emulator.resetCounters();
        const base = {
          dialect,
          host: 'mydb.abc123xyz.us-east-1.rds.amazonaws.com',
          username: 'app',
          database: 'app',
          credentials: orm.iam.credentials,
        };
        const cases: [string, Record<string, unknown>, string][] = [
          ['ssl: false', { ssl: false }, 'ERR_TLS_REQUIRED'],
          ['a password', { password: 'secret' }, 'ERR_CONFLICTING_OPTIONS'],
          ['a url', { url: `${engine}://app@db.example.com/app` }, 'ERR_INVALID_OPTION'],
          ['no host', { host: '' }, 'ERR_INVALID_HOST'],
          ['no username', { username: '' }, 'ERR_INVALID_USER'],
          ['a bad port', { port: 0 }, 'ERR_INVALID_PORT'],
          [
            'a replica with a password',
            { replication: { write: {}, read: [{ host: 'r.example.com', password: 'x' }] } },
            'ERR_CONFLICTING_OPTIONS',
          ],
          ['replication without read', { replication: { write: {} } }, 'ERR_INVALID_OPTION'],
          ['another dialect', { dialect: 'sqlite' }, 'ERR_INVALID_OPTION'],
        ];
        optionErrorsBeforeConnecting(
          orm,
          cases.map(([what, options, code]) => [
            what,
            () => iamSequelizeOptions({ ...base, ...options } as never),
            code,
          ]),
          () => connect({ ssl: false }),
        );
      });
    },
  );
}
