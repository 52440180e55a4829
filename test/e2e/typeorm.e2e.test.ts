import { RdsIamError, type TokenEvent } from '@rds-iam/core';
import { iamDataSourceOptions } from '@rds-iam/typeorm';
import {
  DataSource,
  EntitySchema,
  type MigrationInterface,
  type QueryRunner,
  Table,
} from 'typeorm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  adminQuery,
  createIamUser,
  databaseFor,
  type Engine,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';

// @rds-iam/typeorm end to end: TypeORM 1.1 DataSources of type postgres, mysql and mariadb, logging
// in through the emulator (which checks every token the way RDS does) to the real PostgreSQL /
// MariaDB behind it. Time is moved with the harness clock (emulator offset + the provider's `now`).

const MINUTE = 60_000;
const TARGETS = [
  { type: 'postgres', engine: 'postgres' },
  { type: 'mysql', engine: 'mysql' },
  { type: 'mariadb', engine: 'mysql' },
] as const satisfies readonly { type: string; engine: Engine }[];
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

function eventLog() {
  const events: TokenEvent[] = [];
  return {
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
  const realServer = databaseFor(engine)?.enforcesLoginUser === true;

  describe.runIf(hasDatabase(engine))(`TypeORM (type: '${type}') through the emulator`, () => {
    let iam: IamEndpoint;
    let app: IamUser;
    const open: DataSource[] = [];

    beforeAll(async () => {
      [iam, app] = await Promise.all([
        startIamEndpoint(engine),
        createIamUser(engine, { database: true }),
      ]);
    });
    afterAll(async () => {
      await Promise.all(open.splice(0).map((ds) => (ds.isInitialized ? ds.destroy() : undefined)));
      await iam.stop();
      await app.drop();
    });

    /**
     * A DataSource for the emulator: dial 127.0.0.1, sign for the endpoint's RDS name, trust the
     * emulator's CA. Each call gets its own `now` (same clock) unless one is given, so each test has
     * its own token cache and its own event counts.
     */
    function dataSource(options: Record<string, unknown> = {}): DataSource {
      const base = {
        host: iam.host,
        port: iam.port,
        username: app.user,
        database: app.database,
        region: iam.region,
        signingHost: iam.endpoint.host,
        signingPort: iam.endpoint.port,
        credentials: iam.credentials,
        ssl: { ca: iam.ca },
        now: () => iam.clock.now(),
        ...options,
      };
      const ds = new DataSource(
        type === 'postgres'
          ? iamDataSourceOptions({ ...base, type })
          : iamDataSourceOptions({ ...base, type }),
      );
      open.push(ds);
      return ds;
    }

    async function destroy(ds: DataSource): Promise<void> {
      open.splice(open.indexOf(ds), 1);
      if (ds.isInitialized) await ds.destroy();
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

    /** The server-side id of the session a query runs on (backend pid / CONNECTION_ID). */
    async function sessionId(q: DataSource | QueryRunner): Promise<number> {
      const rows = (await q.query(
        engine === 'postgres' ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id',
      )) as { id: number | string }[];
      return Number(rows[0]?.id);
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

    test('entities (EntitySchema), repository queries, transactions and a migration class', async () => {
      iam.emulator.resetCounters();
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
      await repo.save([
        { body: 'first', author: 'ann' },
        { body: 'second', author: 'bob' },
      ]);
      expect(
        await repo.find({ order: { id: 'ASC' }, select: { body: true, author: true } }),
      ).toEqual([
        { body: 'first', author: 'ann' },
        { body: 'second', author: 'bob' },
      ]);
      expect(await repo.findOneBy({ author: 'bob' })).toMatchObject({ body: 'second' });

      // A committed and a rolled-back transaction.
      await ds.transaction(async (manager) => {
        await manager.getRepository(Notes).save({ body: 'third', author: 'cy' });
      });
      await expect(
        ds.transaction(async (manager) => {
          await manager.getRepository(Notes).save({ body: 'never', author: 'dee' });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect((await repo.find()).map((n) => n.body).sort()).toEqual(['first', 'second', 'third']);

      if (realServer) {
        const [who] = (await ds.query(
          engine === 'postgres'
            ? 'SELECT session_user AS u, current_database() AS d'
            : "SELECT SUBSTRING_INDEX(USER(), '@', 1) AS u, DATABASE() AS d",
        )) as { u: string; d: string }[];
        expect(who).toEqual({ u: app.user, d: app.database });
      }

      await ds.undoLastMigration();
      expect(await ds.createQueryRunner().hasTable('notes')).toBe(false);
      expect(iam.emulator.counters().rejected).toBe(0);
      expect(log.count('minted')).toBe(1);
      await destroy(ds);
    });

    test.runIf(realServer)(
      '16 minutes of pool churn: no failed query, busy and idle connections survive the refresh',
      async () => {
        iam.emulator.resetCounters();
        const log = eventLog();
        // One `now` for both DataSources: they share one token cache, as two DataSources for the
        // same endpoint, user and credentials in one process do.
        const now = () => iam.clock.now();
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
        const busy = churny.createQueryRunner();
        await busy.connect();
        await busy.startTransaction();
        const busyId = await sessionId(busy);
        const steadyId = await sessionId(steady);
        const busyIds: (number | undefined)[] = [];
        const steadyIds: (number | undefined)[] = [];
        let killed = 0;

        for (let minute = 1; minute <= 16; minute++) {
          iam.clock.advance(MINUTE);
          await Promise.all(
            [1, 2, 3, 4].map((i) =>
              attempt(async () => {
                await repo.save({ body: `m${minute}-${i}`, author: null });
                return repo.count();
              }),
            ),
          );
          busyIds.push(await attempt(() => sessionId(busy)));
          steadyIds.push(await attempt(() => sessionId(steady)));
          if (minute % 5 === 0) {
            const victim = await attempt(() => sessionId(churny));
            if (victim !== undefined && victim !== busyId) {
              await killSession(victim);
              killed++;
            }
          }
          // Let the pool's idle timeout close the rest now and then (mysql2 checks every second).
          if (minute % 6 === 3) await sleep(engine === 'postgres' ? 450 : 1_300);
        }
        await busy.manager.getRepository(Notes).save({ body: 'inside the long transaction' });
        await busy.commitTransaction();
        await busy.release();

        expect(failures).toEqual([]);
        expect(killed).toBe(3);
        expect(new Set(busyIds)).toEqual(new Set([busyId]));
        expect(new Set(steadyIds)).toEqual(new Set([steadyId]));
        const counters = iam.emulator.counters();
        expect(counters.rejected).toBe(0);
        // Connections opened after minute 15 (the first token's end on the emulator's clock) logged
        // in: they were given a token minted after the clock moved.
        expect(counters.accepted).toBeGreaterThan(5);
        const mints = log.count('minted');
        expect(mints).toBeGreaterThanOrEqual(2);
        expect(mints).toBeLessThanOrEqual(3);
        expect(log.count('invalidated')).toBe(0);
        expect(await repo.count()).toBe(65);
        await Promise.all([destroy(churny), destroy(steady)]);
      },
    );

    test.runIf(realServer)(
      'a busy hour: mints stay bounded by new connections, no refresh loop',
      async () => {
        iam.emulator.resetCounters();
        const log = eventLog();
        const ds = dataSource({ onEvent: log.onEvent, ...pool(3, 150) });
        await ds.initialize();
        const failures: unknown[] = [];
        let killed = 0;
        for (let step = 1; step <= 30; step++) {
          iam.clock.advance(2 * MINUTE);
          await Promise.all(
            [1, 2, 3].map(() =>
              ds.query('SELECT 1 AS one').catch((err: unknown) => failures.push(err)),
            ),
          );
          if (step % 3 === 0) {
            await killSession(await sessionId(ds));
            killed++;
          }
        }
        expect(failures).toEqual([]);
        expect(killed).toBe(10);
        const counters = iam.emulator.counters();
        const mints = log.count('minted');
        expect(counters.rejected).toBe(0);
        // About one mint per 10 minutes, never one per connection, never a loop.
        expect(counters.accepted).toBeGreaterThan(mints);
        expect(mints).toBeGreaterThanOrEqual(4);
        expect(mints).toBeLessThanOrEqual(7);
        await destroy(ds);
      },
    );

    test('a server rejection fails that query; the next one mints and succeeds, no loop', async () => {
      iam.emulator.resetCounters();
      const log = eventLog();
      const ds = dataSource({ onEvent: log.onEvent, ...pool(2) });
      await ds.initialize();
      expect(log.types()).toEqual(['minted']);
      // Close the pool's connection so that the next query needs a new one.
      iam.emulator.rejectNextLogins(1);
      await killSession(await sessionId(ds));

      // Neither pg-pool nor mysql2's pool retries a failed connect: this query fails...
      const err = await ds.query('SELECT 1 AS one').then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(REJECTION[engine]);
      // ...the driver hook saw the rejection and dropped that token...
      expect(log.types()).toEqual(['minted', 'invalidated']);
      // ...so the next query opens a connection with a freshly minted token.
      await ds.query('SELECT 1 AS one');
      expect(log.types()).toEqual(['minted', 'invalidated', 'minted']);
      for (let i = 0; i < 5; i++) await ds.query('SELECT 1 AS one');
      await sleep(100);
      expect(log.count('minted')).toBe(2);
      expect(iam.emulator.counters()).toMatchObject({
        rejected: 1,
        rejectedByReason: { injected: 1 },
      });
      await destroy(ds);
    });

    test('TLS: an unknown CA is refused before the token is sent', async () => {
      iam.emulator.resetCounters();
      // No `ssl`: verified against the RDS CAs, which did not sign the emulator's certificate.
      const ds = dataSource({ ssl: undefined });
      const err = await ds.initialize().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(/certificate/i);
      expect(iam.emulator.counters()).toMatchObject({ accepted: 0, rejected: 0 });
      await destroy(ds);
    });

    test('`ssl: false` towards a non-loopback host and bad options: RdsIamError before connecting', () => {
      iam.emulator.resetCounters();
      const base = {
        type,
        host: 'mydb.abc123xyz.us-east-1.rds.amazonaws.com',
        username: 'app',
        database: 'app',
        credentials: iam.credentials,
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
      for (const [what, options, code] of cases) {
        let thrown: unknown;
        try {
          iamDataSourceOptions({ ...base, ...options } as never);
        } catch (err) {
          thrown = err;
        }
        expect(thrown, what).toBeInstanceOf(RdsIamError);
        expect((thrown as RdsIamError).code, what).toBe(code);
      }
      // Loopback without TLS is allowed (an emulator, a tunnel's local end).
      expect(() => dataSource({ ssl: false })).not.toThrow();
      expect(iam.emulator.counters().connectionsOpened).toBe(0);
    });
  });
}
