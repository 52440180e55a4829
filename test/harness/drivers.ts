import { TLSSocket } from 'node:tls';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { IamEndpoint } from './endpoint.js';

/** A password, or a function called at each login (how the integrations hand over tokens). */
export type Password = string | (() => string | Promise<string>);

export interface LoginOptions {
  readonly user: string;
  readonly database?: string | undefined;
  readonly password: Password;
}

/** What a session reports about itself after logging in through the emulator. */
export interface SessionInfo {
  readonly currentUser: string;
  readonly database: string | undefined;
  /** Whether the client side of the session is TLS (as seen by the client driver). */
  readonly tls: boolean;
}

/**
 * A pg Client through the emulator over verified TLS (CA and name), with `password` as pg takes it
 * (a function is called for each connection). Connected.
 */
export async function pgConnect(iam: IamEndpoint, options: LoginOptions): Promise<pg.Client> {
  const client = new pg.Client({
    host: iam.host,
    port: iam.port,
    user: options.user,
    database: options.database,
    password: options.password,
    ssl: { ...iam.tls },
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

/**
 * A mysql2 connection through the emulator over TLS (the emulator's CA), sending the password with
 * the async `mysql_clear_password` plugin, as RDS asks. Connected.
 */
export async function mysqlConnect(
  iam: IamEndpoint,
  options: LoginOptions,
): Promise<mysql.Connection> {
  const password = options.password;
  const conn = await mysql.createConnection({
    host: iam.host,
    port: iam.port,
    user: options.user,
    ...(options.database !== undefined ? { database: options.database } : {}),
    ssl: { ca: iam.ca },
    connectTimeout: 10_000,
    authPlugins: {
      mysql_clear_password: () => async () =>
        Buffer.from(`${typeof password === 'function' ? await password() : password}\0`),
    },
  });
  conn.on('error', () => undefined);
  return conn;
}

/** Logs in through the emulator with the engine's driver, asks who it is, and disconnects. */
export async function loginAndQuery(iam: IamEndpoint, options: LoginOptions): Promise<SessionInfo> {
  if (iam.engine === 'postgres') {
    const client = await pgConnect(iam, options);
    try {
      const { rows } = await client.query<{ u: string; d: string }>(
        'SELECT session_user AS u, current_database() AS d',
      );
      return {
        currentUser: rows[0]?.u ?? '',
        database: rows[0]?.d,
        tls: isTls(client, 'connection', 'stream'),
      };
    } finally {
      await client.end();
    }
  }
  const conn = await mysqlConnect(iam, options);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT SUBSTRING_INDEX(USER(), "@", 1) AS u, DATABASE() AS d',
    );
    return {
      currentUser: String(rows[0]?.u ?? ''),
      database: rows[0]?.d == null ? undefined : String(rows[0].d),
      // The promise wrapper's `connection` is the core connection; its `stream` is the socket.
      tls: isTls(conn, 'connection', 'stream'),
    };
  } finally {
    await conn.end();
  }
}

/** Whether the socket at `path` inside a driver object is a TLS socket (drivers don't type it). */
function isTls(root: object, ...path: string[]): boolean {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return false;
    node = Reflect.get(node, key);
  }
  return node instanceof TLSSocket && node.encrypted;
}

/** `{ code, errno, message }` of a driver error, for assertions. */
export function driverError(err: unknown): { code?: string; errno?: number; message: string } {
  if (!(err instanceof Error)) return { message: String(err) };
  const code: unknown = Reflect.get(err, 'code');
  const errno: unknown = Reflect.get(err, 'errno');
  return {
    message: err.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof errno === 'number' ? { errno } : {}),
  };
}
