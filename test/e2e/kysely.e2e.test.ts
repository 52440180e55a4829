import { createCallbackPool, createPool as createMysql2Pool } from '@rds-iam/mysql2';
import { createPool as createPgPool } from '@rds-iam/pg';
import {
  type ControlledTransaction,
  type Dialect,
  type Generated,
  Kysely,
  MysqlDialect,
  PostgresDialect,
  sql,
} from 'kysely';
import { describe, expect, test } from 'vitest';
import type { CommonPoolOptions, Row } from './driver-support.js';
import type { NotesAccess } from './orm-scenarios.js';
import {
  mysql2PoolShape,
  type PoolShape,
  pgPoolShape,
  poolOrmScenarios,
} from './pool-orm-scenarios.js';

// Kysely end to end on the @rds-iam/pg and @rds-iam/mysql2 pools through the emulator, with the
// scenarios every pool integration passes (pool-orm-scenarios.ts). PostgresDialect takes the
// @rds-iam/pg pool as it is; MysqlDialect wants mysql2's callback pool: @rds-iam/mysql2's
// createCallbackPool, whose getConnection retries a rejected login as the promise pool does.

interface Notes {
  id: Generated<number>;
  body: string;
  author: string | null;
}
type Db = Kysely<Record<string, Notes>>;
type Tx = ControlledTransaction<Record<string, Notes>>;

/** Options without the scenarios' pool size. */
function iamOptions({
  size: _size,
  ...common
}: CommonPoolOptions): Omit<CommonPoolOptions, 'size'> {
  return common;
}

function dialect(
  engine: 'postgres' | 'mysql',
  common: CommonPoolOptions,
  shape: PoolShape,
): Dialect {
  if (engine === 'postgres') {
    return new PostgresDialect({
      pool: createPgPool({ ...iamOptions(common), ...pgPoolShape(shape) }),
    });
  }
  return new MysqlDialect({
    pool: createCallbackPool({ ...iamOptions(common), ...mysql2PoolShape(shape) }),
  });
}

function notesOf(db: Db, table: string): NotesAccess & { count(): Promise<number> } {
  return {
    insert: (notes) => db.insertInto(table).values(notes).execute(),
    list: () => db.selectFrom(table).select(['body', 'author']).orderBy('id').execute(),
    bodies: async () => (await db.selectFrom(table).select('body').execute()).map((n) => n.body),
    transaction: (work) =>
      db.transaction().execute(async (trx) => {
        await work((note) => trx.insertInto(table).values(note).execute());
      }),
    count: async () =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirst()
        )?.n,
      ),
  };
}

for (const engine of ['postgres', 'mysql'] as const) {
  const create = engine === 'postgres' ? createPgPool : createMysql2Pool;
  poolOrmScenarios<Db, Tx>({
    engine,
    title: `Kysely (${engine === 'postgres' ? 'PostgresDialect on @rds-iam/pg' : 'MysqlDialect on @rds-iam/mysql2'}) through the emulator`,
    open: (common, shape) => new Kysely({ dialect: dialect(engine, common, shape) }),
    firstRow: async (on, text) => (await sql.raw<Row>(text).execute(on)).rows[0],
    close: (db) => db.destroy(),
    notes: notesOf,
    async begin(db, table) {
      const tx = await db.startTransaction().execute();
      return {
        tx,
        commit: async (body) => {
          await tx.insertInto(table).values({ body }).execute();
          await tx.commit().execute();
        },
      };
    },
    optionErrors: (base) => [
      ['ssl: false', () => create({ ...iamOptions(base), ssl: false }), 'ERR_TLS_REQUIRED'],
      [
        'a password',
        () => create({ ...iamOptions(base), password: 'secret' } as never),
        'ERR_CONFLICTING_OPTIONS',
      ],
      ['no user', () => create({ ...iamOptions(base), user: '' }), 'ERR_INVALID_USER'],
    ],
    loopbackWithoutTls: (base) =>
      new Kysely({ dialect: dialect(engine, { ...base, ssl: false }, { max: 1, idleMs: 1000 }) }),
  });
}

describe("Kysely's MysqlDialect given the promise pool of createPool() instead of createCallbackPool()", () => {
  test('a query fails at once with ERR_CALLBACK_NOT_SUPPORTED, which names createCallbackPool', async () => {
    // Refused before any connection: no server is needed, and none is dialled.
    const pool = createMysql2Pool({ host: '127.0.0.1', port: 9, user: 'app', ssl: false });
    const db = new Kysely({ dialect: new MysqlDialect({ pool: pool as never }) });
    // The promise pool never calls Kysely's callback: without the refusal this waited for ever.
    const bound = new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting').unref());
    const outcome = await Promise.race([sql`SELECT 1`.execute(db).catch((err) => err), bound]);
    expect(outcome).toMatchObject({ name: 'RdsIamError', code: 'ERR_CALLBACK_NOT_SUPPORTED' });
    expect((outcome as Error).message).toContain(
      'use createCallbackPool() from @rds-iam/mysql2: `new MysqlDialect({ pool: createCallbackPool(options) })`',
    );
    await expect(db.destroy()).rejects.toMatchObject({ code: 'ERR_CALLBACK_NOT_SUPPORTED' });
    await pool.end();
  });
});
