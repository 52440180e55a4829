import mysql from 'mysql2/promise';
import pg from 'pg';
import type { DatabaseTarget } from './discovery.js';

/** A row as both drivers return it. */
export type Row = Record<string, unknown>;

/** Runs statements as the target's admin user on one connection, then closes it. */
export async function withAdmin<T>(
  target: DatabaseTarget,
  fn: (query: (sql: string, params?: unknown[]) => Promise<Row[]>) => Promise<T>,
): Promise<T> {
  const login = {
    host: target.host,
    port: target.port,
    user: target.adminUser,
    password: target.adminPassword,
    database: target.database,
  };
  if (target.engine === 'postgres') {
    const client = new pg.Client({ ...login, connectionTimeoutMillis: 5_000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await fn(async (sql, params) => (await client.query<Row>(sql, params)).rows);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  const conn = await mysql.createConnection({ ...login, connectTimeout: 5_000 });
  conn.on('error', () => undefined);
  try {
    return await fn(async (sql, params) => {
      const [rows] = await conn.query(sql, params);
      return Array.isArray(rows) ? (rows as Row[]) : [];
    });
  } finally {
    await conn.end().catch(() => undefined);
  }
}

/** One statement as admin. */
export function adminQuery(
  target: DatabaseTarget,
  sql: string,
  params?: unknown[],
): Promise<Row[]> {
  return withAdmin(target, (query) => query(sql, params));
}
