import { RdsIamError } from '@rds-iam/core';
import { createPool as createMysql2Pool } from '@rds-iam/mysql2';
import { createPool as createPgPool } from '@rds-iam/pg';
import { asc, count, DrizzleQueryError, type SQL, sql } from 'drizzle-orm';
import { int, mysqlTable, varchar as mysqlVarchar } from 'drizzle-orm/mysql-core';
import { drizzle as drizzleMysql, type MySql2Database } from 'drizzle-orm/mysql2';
import { drizzle as drizzlePg, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { pgTable, serial, varchar } from 'drizzle-orm/pg-core';
import type { CommonPoolOptions, Row } from './driver-support.js';
import type { NotesAccess } from './orm-scenarios.js';
import {
  type HeldTransaction,
  mysql2PoolShape,
  pgPoolShape,
  poolOrmScenarios,
} from './pool-orm-scenarios.js';

// Drizzle ORM end to end on the @rds-iam/pg and @rds-iam/mysql2 pools (no package of its own: Drizzle
// takes the pool as it is), through the emulator to the real databases, with the scenarios every
// pool integration passes (pool-orm-scenarios.ts).

const pgNotes = (name: string) =>
  pgTable(name, {
    id: serial('id').primaryKey(),
    body: varchar('body', { length: 200 }).notNull(),
    author: varchar('author', { length: 100 }),
  });
const mysqlNotes = (name: string) =>
  mysqlTable(name, {
    id: int('id').autoincrement().primaryKey(),
    body: mysqlVarchar('body', { length: 200 }).notNull(),
    author: mysqlVarchar('author', { length: 100 }),
  });

type PgDb = NodePgDatabase & { $client: ReturnType<typeof createPgPool> };
type MysqlDb = MySql2Database & { $client: ReturnType<typeof createMysql2Pool> };
/** A Drizzle transaction of either dialect, as the scenarios use it: raw SQL on its connection. */
type AnyTx = { execute: (query: SQL) => Promise<unknown> };

/** Options without the scenarios' pool size. */
function iamOptions({
  size: _size,
  ...common
}: CommonPoolOptions): Omit<CommonPoolOptions, 'size'> {
  return common;
}

/** Holds `db.transaction(...)` open until `commit()`, as the churn scenario's busy connection. */
function hold<T>(
  transaction: (work: (tx: T) => Promise<void>) => Promise<unknown>,
  insert: (tx: T, body: string) => Promise<unknown>,
): Promise<HeldTransaction<T>> {
  let finish: (body: string) => void = () => undefined;
  const text = new Promise<string>((resolve) => {
    finish = resolve;
  });
  return new Promise((resolve, reject) => {
    const done = transaction(async (tx) => {
      resolve({
        tx,
        commit: async (body) => {
          finish(body);
          await done;
        },
      });
      await insert(tx, await text);
    }).catch(reject);
  });
}

/** The notes API, the same code for both dialects (Drizzle's builders are typed per dialect). */
function notesOf(
  db: PgDb | MysqlDb,
  table: ReturnType<typeof pgNotes> | ReturnType<typeof mysqlNotes>,
): NotesAccess & { count(): Promise<number> } {
  // Drizzle's pg and mysql builders have the same shape but no common type.
  const d = db as unknown as PgDb;
  const t = table as ReturnType<typeof pgNotes>;
  return {
    insert: (notes) => d.insert(t).values(notes),
    list: () => d.select({ body: t.body, author: t.author }).from(t).orderBy(asc(t.id)),
    bodies: async () => (await d.select({ body: t.body }).from(t)).map((n) => n.body),
    transaction: (work) =>
      d.transaction(async (tx) => {
        await work((note) => tx.insert(t).values(note));
      }),
    count: async () => Number((await d.select({ n: count() }).from(t))[0]?.n),
  };
}

/**
 * Runs `text` on `on` and resolves to the first row. Drizzle wraps a driver's error in a
 * DrizzleQueryError ("Failed query: ...") whose `cause` is the error itself: the rds-iam error is
 * found there, and rethrown as the scenarios expect it.
 */
async function firstRow(on: AnyTx, text: string): Promise<Row | undefined> {
  try {
    return firstRowOf(await on.execute(sql.raw(text)));
  } catch (err) {
    if (err instanceof DrizzleQueryError && err.cause instanceof RdsIamError) throw err.cause;
    throw err;
  }
}

function firstRowOf(result: unknown): Row | undefined {
  // node-postgres answers a QueryResult, mysql2 a [rows, fields] pair.
  if (Array.isArray(result)) return (result[0] as Row[] | undefined)?.[0];
  return (result as { rows: Row[] }).rows[0];
}

poolOrmScenarios<PgDb, AnyTx>({
  engine: 'postgres',
  title: 'Drizzle (drizzle-orm/node-postgres) on @rds-iam/pg through the emulator',
  open: (common, shape) =>
    drizzlePg({
      client: createPgPool({ ...iamOptions(common), ...pgPoolShape(shape) }),
    }),
  firstRow,
  close: (db) => db.$client.end(),
  notes: (db, name) => notesOf(db, pgNotes(name)),
  begin: (db, name) =>
    hold<AnyTx>(
      (work) => db.transaction((tx) => work(tx as unknown as AnyTx)),
      (tx, body) => tx.execute(sql`INSERT INTO ${sql.identifier(name)} (body) VALUES (${body})`),
    ),
  optionErrors: (base) => [
    ['ssl: false', () => createPgPool({ ...iamOptions(base), ssl: false }), 'ERR_TLS_REQUIRED'],
    [
      'a password',
      () => createPgPool({ ...iamOptions(base), password: 'secret' } as never),
      'ERR_CONFLICTING_OPTIONS',
    ],
    ['no user', () => createPgPool({ ...iamOptions(base), user: '' }), 'ERR_INVALID_USER'],
  ],
  loopbackWithoutTls: (base) => drizzlePg({ client: createPgPool(iamOptions(base)) }),
});

poolOrmScenarios<MysqlDb, AnyTx>({
  engine: 'mysql',
  title: 'Drizzle (drizzle-orm/mysql2) on @rds-iam/mysql2 through the emulator',
  open: (common, shape) =>
    drizzleMysql({
      client: createMysql2Pool({ ...iamOptions(common), ...mysql2PoolShape(shape) }),
    }),
  firstRow,
  close: (db) => db.$client.end(),
  notes: (db, name) => notesOf(db, mysqlNotes(name)),
  begin: (db, name) =>
    hold<AnyTx>(
      (work) => db.transaction((tx) => work(tx as unknown as AnyTx)),
      (tx, body) => tx.execute(sql`INSERT INTO ${sql.identifier(name)} (body) VALUES (${body})`),
    ),
  optionErrors: (base) => [
    ['ssl: false', () => createMysql2Pool({ ...iamOptions(base), ssl: false }), 'ERR_TLS_REQUIRED'],
    [
      'a password',
      () => createMysql2Pool({ ...iamOptions(base), password: 'secret' } as never),
      'ERR_CONFLICTING_OPTIONS',
    ],
    ['no user', () => createMysql2Pool({ ...iamOptions(base), user: '' }), 'ERR_INVALID_USER'],
  ],
  loopbackWithoutTls: (base) => drizzleMysql({ client: createMysql2Pool(iamOptions(base)) }),
});
