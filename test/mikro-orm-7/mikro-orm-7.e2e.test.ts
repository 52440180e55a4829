import { EntitySchema, MikroORM, Utils } from '@mikro-orm/core';
import { MariaDbDriver } from '@mikro-orm/mariadb';
import { MySqlDriver } from '@mikro-orm/mysql';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { iamMikroOrmOptions } from '@rds-iam/mikro-orm';
import { describe, expect, test } from 'vitest';
import type { Row } from '../e2e/driver-support.js';
import { useOrmEndpoint } from '../e2e/orm-scenarios.js';
import { type Engine, hasDatabase } from '../harness/index.js';
import { MIKRO_ORM_MAJOR } from '../harness/mikro-orm.js';

// What only MikroORM 7 has, through the emulator: the pools MikroORM builds itself stay its own, with
// its type handling, its `getNativeClient()` and your `driverOptions`, and rds-iam's login hook in
// them. The scenarios every MikroORM passes run from test/e2e/mikro-orm.e2e.test.ts, in this package
// with MikroORM 7 loaded.

test('this run loaded MikroORM 7, in the shared files too', () => {
  expect(Utils.getORMVersion()).toMatch(/^7\./);
  expect(MIKRO_ORM_MAJOR).toBe(7);
});

/** MikroORM 7's pg pool and mysql2 pool, as far as these tests look into them. */
interface NativePools {
  pg: {
    options: Record<string, unknown> & { types?: { getTypeParser?: unknown } };
    query(sql: string): Promise<{ rows: Row[] }>;
  };
  mysql2: {
    config: {
      connectionConfig: Record<string, unknown> & { authPlugins?: Record<string, unknown> };
    };
    query(sql: string, callback: (err: Error | null, rows: Row[]) => void): void;
  };
}

const TARGETS = [
  { name: 'PostgreSqlDriver', driver: PostgreSqlDriver, engine: 'postgres', pool: 'pg' },
  { name: 'MySqlDriver', driver: MySqlDriver, engine: 'mysql', pool: 'mysql2' },
  // MikroORM 7's MariaDbDriver connects with mysql2, not the mariadb connector.
  { name: 'MariaDbDriver', driver: MariaDbDriver, engine: 'mysql', pool: 'mysql2' },
] as const satisfies readonly {
  name: string;
  driver: unknown;
  engine: Engine;
  pool: keyof NativePools;
}[];

/** A date, a timestamp and (PostgreSQL) an interval, which MikroORM's own type handling keeps as text. */
const TYPED = {
  postgres: "SELECT DATE '2024-01-02' AS day, now() AS at, INTERVAL '1 day 2 hours' AS span",
  mysql: "SELECT CAST('2024-01-02' AS DATE) AS day, NOW() AS at",
} as const satisfies Record<Engine, string>;

const Note = new EntitySchema<{ id: number; body: string }>({
  name: 'Note',
  tableName: 'notes',
  properties: { id: { type: 'number', primary: true }, body: { type: 'string' } },
});

for (const { name, driver, engine, pool } of TARGETS) {
  describe.runIf(hasDatabase(engine))(
    `MikroORM 7 (${name}): its own pool, with rds-iam's login in it`,
    () => {
      const orm = useOrmEndpoint<MikroORM, never>({
        engine,
        firstRow: async (on, sql) =>
          ((await on.em.fork().getConnection().execute(sql)) as Row[])[0],
        close: (mikro) => mikro.close(true),
      });

      async function init(options: Record<string, unknown> = {}): Promise<MikroORM> {
        const { database, ...rest } = orm.options();
        return orm.track(
          await MikroORM.init(
            iamMikroOrmOptions({
              ...rest,
              dbName: database,
              driver,
              entities: [Note],
              ...options,
            } as never),
          ),
        );
      }

      test('getNativeClient() is MikroORM’s pool: its settings, your driverOptions, the IAM login', async () => {
        orm.iam.emulator.resetCounters();
        const timeout = pool === 'pg' ? 'connectionTimeoutMillis' : 'connectTimeout';
        const mikro = await init({ driverOptions: { [timeout]: 4321 } });
        const native = (await mikro.em.getConnection().getNativeClient()) as unknown;
        if (pool === 'pg') {
          const { options, query } = native as NativePools['pg'];
          expect(options[timeout]).toBe(4321);
          expect(typeof options.password).toBe('function');
          expect(options.ssl).toMatchObject({ ca: orm.iam.ca, rejectUnauthorized: true });
          // MikroORM's own type parsers are still the pool's.
          expect(typeof options.types?.getTypeParser).toBe('function');
          const { rows } = await query.call(native, 'SELECT 1 AS one');
          expect(rows).toEqual([{ one: 1 }]);
        } else {
          const { config, query } = native as NativePools['mysql2'];
          expect(config.connectionConfig[timeout]).toBe(4321);
          expect(config.connectionConfig.dateStrings).toBe(true);
          expect(typeof config.connectionConfig.authPlugins?.mysql_clear_password).toBe('function');
          const rows = await new Promise<Row[]>((resolve, reject) =>
            query.call(native, 'SELECT 1 AS one', (err, result) =>
              err ? reject(err) : resolve(result),
            ),
          );
          expect(rows).toEqual([{ one: 1 }]);
        }
        // The query on the native pool logged in with a token the emulator verified.
        expect(orm.iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
        await orm.destroy(mikro);
      });

      test('pg’s connect has a bound unless driverOptions sets its own', async () => {
        const mikro = await init();
        const native = (await mikro.em.getConnection().getNativeClient()) as unknown;
        if (pool === 'pg') {
          expect((native as NativePools['pg']).options.connectionTimeoutMillis).toBe(30_000);
        } else {
          // mysql2 bounds its connect itself (10 s).
          expect((native as NativePools['mysql2']).config.connectionConfig.connectTimeout).toBe(
            10_000,
          );
        }
        await orm.destroy(mikro);
      });

      test('MikroORM’s type handling stays: dates, timestamps and intervals come back as text', async () => {
        const mikro = await init();
        const row = (await orm.firstRow(mikro, TYPED[engine])) as Row;
        expect(Object.keys(row).length).toBeGreaterThanOrEqual(2);
        for (const [column, value] of Object.entries(row)) {
          expect(typeof value, column).toBe('string');
        }
        expect(row.day).toMatch(/^2024-01-02/);
        await orm.destroy(mikro);
      });
    },
  );
}
