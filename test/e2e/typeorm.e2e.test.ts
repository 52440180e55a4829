import { iamDataSourceOptions } from '@rds-iam/typeorm';
import {
  DataSource,
  EntitySchema,
  type MigrationInterface,
  type QueryRunner,
  Table,
} from 'typeorm';
import { describe, expect, test } from 'vitest';
import { type Engine, hasDatabase } from '../harness/index.js';
import { eventLog, type Row } from './driver-support.js';
import {
  busyHour,
  type Note,
  notesRoundTrip,
  optionErrorsBeforeConnecting,
  poolChurn,
  rejectedOnceRetried,
  rejectedTwiceThenRecovers,
  unknownCaRefused,
  useOrmEndpoint,
} from './orm-scenarios.js';

// @rds-iam/typeorm end to end: TypeORM 1.1 DataSources of type postgres, mysql and mariadb, logging
// in through the emulator (which checks every token the way RDS does) to the real PostgreSQL /
// MariaDB behind it. Time is moved with the harness clock (emulator offset + the provider's `now`).
// The scenarios knex passes too live in orm-scenarios.ts; TypeORM's own checks stay here.

const TARGETS = [
  { type: 'postgres', engine: 'postgres' },
  { type: 'mysql', engine: 'mysql' },
  { type: 'mariadb', engine: 'mysql' },
] as const satisfies readonly { type: string; engine: Engine }[];

/** An entity without decorators, on table `table`. */
function noteSchema(table: string): EntitySchema<Note> {
  return new EntitySchema<Note>({
    name: 'Note',
    tableName: table,
    columns: {
      id: { type: 'int', primary: true, generated: 'increment' },
      body: { type: 'varchar', length: 200 },
      author: { type: 'varchar', length: 100, nullable: true },
    },
  });
}

/** A migration class, as `typeorm migration:generate` writes them, creating table `table`. */
function createNotesMigration(table: string): new () => MigrationInterface {
  return class CreateNotes1767225600000 implements MigrationInterface {
    name = 'CreateNotes1767225600000';
    async up(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.createTable(
        new Table({
          name: table,
          columns: [
            {
              name: 'id',
              type: 'int',
              isPrimary: true,
              isGenerated: true,
              generationStrategy: 'increment',
            },
            { name: 'body', type: 'varchar', length: '200' },
            { name: 'author', type: 'varchar', length: '100', isNullable: true },
          ],
        }),
      );
    }
    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.dropTable(table);
    }
  };
}

for (const { type, engine } of TARGETS) {
  describe.runIf(hasDatabase(engine))(`TypeORM (type: '${type}') through the emulator`, () => {
    const orm = useOrmEndpoint<DataSource, QueryRunner>({
      engine,
      firstRow: async (q, sql) => ((await q.query(sql)) as Row[])[0],
      close: async (ds) => {
        if (ds.isInitialized) await ds.destroy();
      },
    });
    const { realServer } = orm;

    /** A DataSource for the emulator: `orm.options()` (a `now` of its own), `options` on top. */
    function dataSource(options: Record<string, unknown> = {}): DataSource {
      const { user, ...rest } = orm.options();
      const base = { ...rest, username: user, ...options };
      return orm.track(
        new DataSource(
          type === 'postgres'
            ? iamDataSourceOptions({ ...base, type })
            : iamDataSourceOptions({ ...base, type }),
        ),
      );
    }

    /** Pool settings: `max` connections; idle ones closed after `idleMs`, or kept (`undefined`). */
    function pool(max: number, idleMs?: number): Record<string, unknown> {
      if (engine === 'postgres') {
        return { poolSize: max, extra: { idleTimeoutMillis: idleMs ?? 600_000 } };
      }
      // mysql2 closes idle connections (checked every second) only while maxIdle < the limit.
      return idleMs === undefined
        ? { poolSize: max }
        : { poolSize: max, extra: { maxIdle: 1, idleTimeout: idleMs } };
    }

    test('entities (EntitySchema), repository queries, transactions and a migration class', async () => {
      orm.iam.emulator.resetCounters();
      const log = eventLog();
      const Notes = noteSchema('notes');
      const ds = dataSource({
        onEvent: log.onEvent,
        entities: [Notes],
        migrations: [createNotesMigration('notes')],
        migrationsTableName: 'typeorm_migrations_e2e',
      });
      await ds.initialize();

      expect(await ds.showMigrations()).toBe(true);
      const ran = await ds.runMigrations();
      expect(ran.map((m) => m.name)).toEqual(['CreateNotes1767225600000']);
      expect(await ds.showMigrations()).toBe(false);

      const repo = ds.getRepository(Notes);
      await notesRoundTrip(orm, ds, {
        insert: (notes) => repo.save(notes),
        list: () => repo.find({ order: { id: 'ASC' }, select: { body: true, author: true } }),
        bodies: async () => (await repo.find()).map((n) => n.body),
        transaction: (work) =>
          ds.transaction((manager) => work((note) => manager.getRepository(Notes).save(note))),
      });
      expect(await repo.findOneBy({ author: 'bob' })).toMatchObject({ body: 'second' });

      await ds.undoLastMigration();
      expect(await ds.createQueryRunner().hasTable('notes')).toBe(false);
      expect(orm.iam.emulator.counters().rejected).toBe(0);
      expect(log.count('minted')).toBe(1);
      await orm.destroy(ds);
    });

    test.runIf(realServer)(
      '16 minutes of pool churn: no failed query, busy and idle connections survive the refresh',
      async () => {
        orm.iam.emulator.resetCounters();
        const log = eventLog();
        // One `now` for both DataSources: they share one token cache, as two DataSources for the
        // same endpoint, user and credentials in one process do.
        const now = () => orm.iam.clock.now();
        const Notes = noteSchema('churn_notes');
        const churny = dataSource({
          now,
          onEvent: log.onEvent,
          entities: [Notes],
          migrations: [createNotesMigration('churn_notes')],
          migrationsTableName: 'typeorm_migrations_churn',
          ...pool(4, 250),
        });
        const steady = dataSource({ now, onEvent: log.onEvent, ...pool(1) });
        await Promise.all([churny.initialize(), steady.initialize()]);
        await churny.runMigrations();
        const repo = churny.getRepository(Notes);
        const busy = churny.createQueryRunner();
        await busy.connect();
        await busy.startTransaction();

        await poolChurn(orm, log, {
          churny,
          steady,
          busy,
          traffic: async (body) => {
            await repo.save({ body, author: null });
            return repo.count();
          },
          commitBusy: async (body) => {
            await busy.manager.getRepository(Notes).save({ body });
            await busy.commitTransaction();
            await busy.release();
          },
          // mysql2 checks for idle connections every second.
          pauseAfter: (minute) => (minute % 6 === 3 ? (engine === 'postgres' ? 450 : 1_300) : 0),
        });

        // Connections opened after minute 15 (the first token's end on the emulator's clock) logged
        // in: they were given a token minted after the clock moved.
        expect(orm.iam.emulator.counters().accepted).toBeGreaterThan(5);
        expect(await repo.count()).toBe(65);
        await Promise.all([orm.destroy(churny), orm.destroy(steady)]);
      },
    );

    test.runIf(realServer)(
      'a busy hour: mints stay bounded by new connections, no refresh loop',
      async () => {
        orm.iam.emulator.resetCounters();
        const log = eventLog();
        const ds = dataSource({ onEvent: log.onEvent, ...pool(3, 150) });
        await ds.initialize();
        await busyHour(orm, log, ds, () => 0);
        expect(orm.iam.emulator.counters().accepted).toBeGreaterThan(log.count('minted'));
        await orm.destroy(ds);
      },
    );

    test('a server rejection is retried once by the driver pool: the query succeeds, no loop', async () => {
      orm.iam.emulator.resetCounters();
      const log = eventLog();
      const ds = dataSource({ onEvent: log.onEvent, ...pool(2) });
      await ds.initialize();
      await rejectedOnceRetried(orm, log, ds);
      await rejectedTwiceThenRecovers(orm, ds);
      await orm.destroy(ds);
    });

    test('TLS: an unknown CA is refused before the token is sent', async () => {
      orm.iam.emulator.resetCounters();
      // No `ssl`: verified against the RDS CAs, which did not sign the emulator's certificate.
      const ds = dataSource({ ssl: undefined });
      // Translated by the driver pool's connect path: a code and what to fix.
      await unknownCaRefused(orm, ds.initialize());
      await orm.destroy(ds);
    });

    test('`ssl: false` towards a non-loopback host and bad options: RdsIamError before connecting', () => {
      orm.iam.emulator.resetCounters();
      const base = {
        type,
        host: 'mydb.abc123xyz.us-east-1.rds.amazonaws.com',
        username: 'app',
        database: 'app',
        credentials: orm.iam.credentials,
      };
      const cases: [string, Record<string, unknown>, string][] = [
        ['ssl: false', { ssl: false }, 'ERR_TLS_REQUIRED'],
        ['a password', { password: 'secret' }, 'ERR_CONFLICTING_OPTIONS'],
        [
          'a password in the url',
          { host: undefined, url: `${engine}://app:secret@db.example.com/app` },
          'ERR_CONFLICTING_OPTIONS',
        ],
        ['no host', { host: '' }, 'ERR_INVALID_HOST'],
        ['no username', { username: '' }, 'ERR_INVALID_USER'],
        ['a bad port', { port: 0 }, 'ERR_INVALID_PORT'],
        ['replication', { replication: { master: {}, slaves: [] } }, 'ERR_INVALID_OPTION'],
        ['another type', { type: 'sqlite' }, 'ERR_INVALID_OPTION'],
      ];
      optionErrorsBeforeConnecting(
        orm,
        cases.map(([what, options, code]) => [
          what,
          () => iamDataSourceOptions({ ...base, ...options } as never),
          code,
        ]),
        () => dataSource({ ssl: false }),
      );
    });
  });
}
