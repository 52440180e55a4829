// Shared by the @rds-iam/pg and @rds-iam/mysql2 end-to-end files: one small adapter per driver so
// that the same scenarios (pool recycling, rejections, credentials, TLS) run against both, plus the
// helpers they need. Not a test file (no `.test.ts`).
import { createServer, type ServerResponse } from 'node:http';
import net from 'node:net';
import { TLSSocket } from 'node:tls';
import type {
  AwsCredentials,
  AwsCredentialsProvider,
  IamSslOption,
  TokenEvent,
  TokenMintedEvent,
} from '@rds-iam/core';
import {
  createConnection as createMysql2Connection,
  createPool as createMysql2Pool,
} from '@rds-iam/mysql2';
import { createClient as createPgClient, createPool as createPgPool } from '@rds-iam/pg';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import {
  adminQuery,
  type Engine,
  type IamEndpoint,
  requireDatabase,
  startIamEndpoint,
} from '../harness/index.js';

export const MINUTE = 60_000;

/** The options every scenario passes, whichever driver: rds-iam's plus a pool size. */
export interface CommonPoolOptions {
  host: string;
  port?: number | undefined;
  user: string;
  database?: string | undefined;
  region?: string | undefined;
  signingHost?: string | undefined;
  signingPort?: number | undefined;
  credentials?: AwsCredentials | AwsCredentialsProvider | undefined;
  credentialsTimeoutMs?: number | undefined;
  now?: (() => number) | undefined;
  onEvent?: ((event: TokenEvent) => void) | undefined;
  ssl?: IamSslOption;
  /** pg `max`, mysql2 `connectionLimit`. Default 10. */
  size?: number;
}

export type Row = Record<string, unknown>;

/** One checked-out physical connection. */
export interface HeldConnection {
  query(sql: string): Promise<Row>;
  /** Whether the client side of this connection is TLS. */
  tls(): boolean;
  release(): void;
}

/** A driver's pool, as the scenarios use it. */
export interface DriverPool {
  /** `pool.query()`: any connection, new or idle. Resolves to the first row. */
  query(sql: string): Promise<Row>;
  acquire(): Promise<HeldConnection>;
  /** Physical connections the pool holds (busy or idle). */
  size(): number;
  end(): Promise<void>;
}

/** A single connection outside any pool (`createClient` / `createConnection`). */
export interface SingleConnection {
  query(sql: string): Promise<Row>;
  end(): Promise<void>;
}

export interface DriverUnderTest {
  readonly name: 'pg' | 'mysql2';
  readonly engine: Engine;
  /** A query that returns the upstream session id as `id`. */
  readonly sessionIdSql: string;
  createPool(options: CommonPoolOptions): DriverPool;
  /** Opens one connection with the package's single-connection API. */
  connect(options: CommonPoolOptions): Promise<SingleConnection>;
}

function isTls(stream: unknown): boolean {
  return stream instanceof TLSSocket && stream.encrypted;
}

export const pgDriver: DriverUnderTest = {
  name: 'pg',
  engine: 'postgres',
  sessionIdSql: 'SELECT pg_backend_pid() AS id',
  createPool({ size, ...options }) {
    const pool = createPgPool({
      ...options,
      max: size ?? 10,
      connectionTimeoutMillis: 30_000,
    });
    const first = (rows: Row[]): Row => rows[0] ?? {};
    return {
      query: async (sql) => first((await pool.query<Row>(sql)).rows),
      async acquire() {
        const client = await pool.connect();
        return {
          query: async (sql) => first((await client.query<Row>(sql)).rows),
          tls: () => isTls(Reflect.get(Reflect.get(client, 'connection') as object, 'stream')),
          release: () => client.release(),
        };
      },
      size: () => pool.totalCount,
      end: () => pool.end(),
    };
  },
  async connect({ size: _size, ...options }) {
    const client = createPgClient({ ...options, connectionTimeoutMillis: 60_000 });
    client.on('error', () => undefined);
    await client.connect();
    return {
      query: async (sql) => (await client.query<Row>(sql)).rows[0] ?? {},
      end: () => client.end(),
    };
  },
};

export const mysql2Driver: DriverUnderTest = {
  name: 'mysql2',
  engine: 'mysql',
  sessionIdSql: 'SELECT CONNECTION_ID() AS id',
  createPool({ size, ...options }) {
    const pool = createMysql2Pool({
      ...options,
      connectionLimit: size ?? 10,
      connectTimeout: 30_000,
    });
    const first = (rows: unknown): Row => (Array.isArray(rows) ? ((rows[0] as Row) ?? {}) : {});
    // The promise pool wraps the callback pool, whose connection list has no public accessor.
    const core = Reflect.get(pool, 'pool') as unknown as { _allConnections: { length: number } };
    return {
      query: async (sql) => first((await pool.query<mysql.RowDataPacket[]>(sql))[0]),
      async acquire() {
        const conn = await pool.getConnection();
        return {
          query: async (sql) => first((await conn.query<mysql.RowDataPacket[]>(sql))[0]),
          tls: () => isTls(Reflect.get(Reflect.get(conn, 'connection') as object, 'stream')),
          release: () => conn.release(),
        };
      },
      size: () => core._allConnections.length,
      end: () => pool.end(),
    };
  },
  async connect({ size: _size, ...options }) {
    const conn = await createMysql2Connection({ ...options, connectTimeout: 60_000 });
    conn.on('error', () => undefined);
    return {
      query: async (sql) => {
        const [rows] = await conn.query<mysql.RowDataPacket[]>(sql);
        return (rows[0] as Row | undefined) ?? {};
      },
      end: () => conn.end(),
    };
  },
};

export const DRIVERS: readonly DriverUnderTest[] = [pgDriver, mysql2Driver];

/** The options that log `user` in through `iam`: signing endpoint, region, demo keys, CA, test clock. */
export function endpointOptions(
  iam: IamEndpoint,
  user: string,
  database: string | undefined,
): CommonPoolOptions {
  return {
    host: iam.host,
    port: iam.port,
    user,
    database,
    region: iam.region,
    signingHost: iam.endpoint.host,
    signingPort: iam.endpoint.port,
    credentials: iam.credentials,
    now: iam.clock.now,
    ssl: { ca: iam.ca },
  };
}

/** Records a provider's events; `minted()` are the mints so far. */
export function eventLog(): {
  onEvent: (event: TokenEvent) => void;
  events: TokenEvent[];
  minted(): TokenMintedEvent[];
  count(type: TokenEvent['type']): number;
} {
  const events: TokenEvent[] = [];
  return {
    onEvent: (event) => events.push(event),
    events,
    minted: () => events.filter((e): e is TokenMintedEvent => e.type === 'minted'),
    count: (type) => events.filter((e) => e.type === type).length,
  };
}

/** Polls `check` until it holds (real time; nothing here depends on how fast the machine is). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Waits until `emulator` holds exactly the `live()` connections its client counts (none mid-login,
 * none dead and unnoticed) and opened no new one since the previous look. A pool that opens
 * connections by itself (mariadb's, also while it ends) decides to open one the moment a
 * connection is released, created or closed, so one poll interval without a new one means it
 * decided not to.
 */
export function waitForQuietEmulator(
  emulator: IamEndpoint['emulator'],
  live: () => number,
  what: string,
  timeoutMs?: number,
): Promise<void> {
  let previous = -1;
  return waitFor(
    () => {
      const c = emulator.counters();
      const quiet = c.connectionsActive === live();
      const stable = quiet && c.connectionsOpened === previous;
      previous = quiet ? c.connectionsOpened : -1;
      return stable;
    },
    what,
    timeoutMs,
  );
}

/**
 * Ends every upstream session of `user`, as a failover, a proxy's idle timeout or a DBA would: the
 * pool's connections die under it and it has to open new ones.
 */
export async function endSessionsOf(engine: Engine, user: string): Promise<void> {
  const target = requireDatabase(engine);
  if (engine === 'postgres') {
    await adminQuery(
      target,
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
      [user],
    );
    return;
  }
  const sessions = await adminQuery(
    target,
    'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?',
    [user],
  );
  for (const s of sessions) {
    await adminQuery(target, `KILL CONNECTION ${Number(s.id)}`).catch(() => undefined);
  }
}

/** `[0, 1, ..., n - 1]`. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** The rejection of `promise`, or a failure when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & Row> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Row;
  }
  throw new Error('expected a rejection, but it resolved');
}

/** A TCP relay that lets at most `slots` connections through to `target` at once; the rest wait. */
export interface Gate {
  readonly port: number;
  /** The most connections that were through at once. */
  peak(): number;
  /** Changes how many may be through at once; 0 makes it an upstream that accepts and never answers. */
  setSlots(slots: number): void;
  close(): Promise<void>;
}

/**
 * Starts a {@link Gate} on 127.0.0.1. Put between the emulator and the database when a test opens
 * more connections at once than the server's `max_connections` allows (PostgreSQL's default is 100,
 * MariaDB's 151, and other test runs share them).
 */
export async function startGate(
  target: { readonly host: string; readonly port: number },
  slots: number,
): Promise<Gate> {
  let active = 0;
  let peak = 0;
  const waiting: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => sockets.delete(socket));
  };
  const next = (): void => {
    while (active < slots && waiting.length > 0) waiting.shift()?.();
  };
  const server = net.createServer((client) => {
    track(client);
    client.pause();
    const through = (): void => {
      if (client.destroyed) return;
      active += 1;
      peak = Math.max(peak, active);
      const upstream = net.connect({ host: target.host, port: target.port });
      track(upstream);
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        client.destroy();
        upstream.destroy();
        active -= 1;
        next();
      };
      client.once('close', finish);
      upstream.once('close', finish);
      client.pipe(upstream);
      upstream.pipe(client);
    };
    if (active < slots) through();
    else waiting.push(through);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    peak: () => peak,
    setSlots: (n) => {
      slots = n;
      next();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What the container-credentials stand-in does with the next request. */
export type CredentialEndpointMode = 'answer' | 'hang' | 'error' | 'garbage';

/**
 * A loopback stand-in for the ECS/EKS container credentials endpoint
 * (`AWS_CONTAINER_CREDENTIALS_FULL_URI`) that serves `keys`, counts its requests, and can be switched
 * to hang (accept and never answer), answer HTTP 500, or answer garbage. `delayMs` makes every answer
 * slow.
 */
export interface CredentialEndpoint {
  readonly url: string;
  /** The keys it serves; replace them to rotate the keys behind the endpoint. */
  keys: AwsCredentials;
  requests: number;
  mode: CredentialEndpointMode;
  delayMs: number;
  /** Requests it holds unanswered whose client is still connected. */
  hanging(): number;
  close(): Promise<void>;
}

export async function startCredentialEndpoint(
  keys: AwsCredentials,
  delayMs = 0,
): Promise<CredentialEndpoint> {
  const hung: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    endpoint.requests += 1;
    if (endpoint.mode === 'hang') {
      hung.push(res);
      return;
    }
    const mode = endpoint.mode;
    setTimeout(() => {
      if (mode === 'error') {
        res.statusCode = 500;
        res.end(JSON.stringify({ Code: 'InternalError', Message: 'agent unavailable (stand-in)' }));
        return;
      }
      if (mode === 'garbage') {
        res.end('<html>502 Bad Gateway</html>');
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          AccessKeyId: endpoint.keys.accessKeyId,
          SecretAccessKey: endpoint.keys.secretAccessKey,
          Token: endpoint.keys.sessionToken,
          Expiration: endpoint.keys.expiration?.toISOString(),
        }),
      );
    }, endpoint.delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const endpoint: CredentialEndpoint = {
    url: `http://127.0.0.1:${port}/v2/credentials/e2e`,
    keys,
    requests: 0,
    mode: 'answer',
    delayMs,
    hanging: () => hung.filter((res) => !res.socket?.destroyed).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return endpoint;
}

/**
 * Makes the SDK's default chain find nothing but the container endpoint at `url`: no keys in the
 * environment, no shared files, no instance metadata. Returns the function that puts the environment
 * back.
 */
export function useContainerCredentials(url: string): () => void {
  const saved = { ...process.env };
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('AWS_')) delete process.env[name];
  }
  process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = url;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_CONFIG_FILE = '/nonexistent/rds-iam-e2e/config';
  process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/rds-iam-e2e/credentials';
  return () => {
    for (const name of Object.keys(process.env)) {
      if (!(name in saved)) delete process.env[name];
    }
    Object.assign(process.env, saved);
  };
}

/** What {@link containerCredentialsBed} sets up: read its fields inside tests, after `beforeAll`. */
export interface ContainerCredentialsBed {
  /** The container credentials endpoint the default chain finds. */
  readonly standIn: CredentialEndpoint;
  /** The emulator in front of the engine's database, accepting the stand-in's first keys. */
  readonly iam: IamEndpoint;
}

/**
 * For the describe block it is called in: a container credentials endpoint serving `keys`, the SDK's
 * default chain pointed at it alone, and an IAM endpoint that accepts those keys; all undone after.
 */
export function containerCredentialsBed(
  engine: Engine,
  keys: AwsCredentials,
): ContainerCredentialsBed {
  let standIn: CredentialEndpoint | undefined;
  let iam: IamEndpoint | undefined;
  let restoreEnv = () => {};
  beforeAll(async () => {
    standIn = await startCredentialEndpoint(keys);
    restoreEnv = useContainerCredentials(standIn.url);
    iam = await startIamEndpoint(engine, { emulator: { credentials: [keys] } });
  });
  afterAll(async () => {
    await standIn?.close();
    restoreEnv();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('containerCredentialsBed: used before beforeAll ran');
    return value;
  };
  return {
    get standIn() {
      return ready(standIn);
    },
    get iam() {
      return ready(iam);
    },
  };
}
