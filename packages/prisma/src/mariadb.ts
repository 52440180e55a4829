import type { PrismaMariaDb } from '@prisma/adapter-mariadb';
import {
  createIamConnector,
  describeError,
  type IamConnectionOptions,
  type IamConnector,
  MARIADB_CONNECT_TIMEOUT_MS,
  type MariaDbLogger,
  type MariaDbStream,
  mariadbIamStream,
  mergeDatabaseUrl,
  RdsIamError,
  splitIamOptions,
  withoutPassword,
} from '@rds-iam/core';
import { loadPeer, loadPeerDependency } from './peer.js';

/** The pool settings `new PrismaMariaDb(config)` takes: the mariadb connector's `PoolConfig`. */
export type MariaDbPoolConfig = Exclude<
  ConstructorParameters<typeof PrismaMariaDb>[0],
  string | { getConnection: (...args: never[]) => unknown }
>;

/** The second argument of `new PrismaMariaDb(config, options)`: `database`, `useTextProtocol`, ... */
export type PrismaMariaDbAdapterOptions = NonNullable<
  ConstructorParameters<typeof PrismaMariaDb>[1]
>;

/**
 * Options of {@link iamPrismaMariaDb}: the mariadb connector's pool options (`connectionLimit`,
 * `minimumIdle`, `idleTimeout`, `acquireTimeout`, `database`, ...) plus rds-iam's (`region`,
 * `signingHost`, `credentials`, `onEvent`, ...). A `password` is refused (the token is the password;
 * `''` or `null` count as none), and so are `debug` / `debugCompress` and a `network` logger: their
 * packet dumps would contain the token.
 */
export interface IamPrismaMariaDbOptions
  extends Omit<MariaDbPoolConfig, 'password' | 'ssl' | 'host' | 'port' | 'user'>,
    Omit<IamConnectionOptions, 'engine' | 'host' | 'user' | 'port'> {
  /** The endpoint dialled. Required, here or in `uri`. */
  host?: string;
  /** Default 3306. */
  port?: number;
  /** The database user with IAM enabled. Required, here or in `uri`. */
  user?: string;
  /**
   * A `mysql://user@host:port/db` (or `mariadb://`) URL, parsed by rds-iam and merged under the
   * explicit options. A password or query parameters in it are refused.
   */
  uri?: string;
}

/** What rds-iam uses of the mariadb connector's pool (the promise API). */
interface MariaDbPool {
  getConnection(): Promise<MariaDbConnection>;
  end(): Promise<void>;
  idleConnections(): number;
  totalConnections(): number;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

interface MariaDbConnection {
  release(): Promise<void>;
  query(sql: unknown, values?: unknown): Promise<unknown>;
  execute(sql: unknown, values?: unknown): Promise<unknown>;
  batch(sql: unknown, values?: unknown): Promise<unknown>;
}

interface MariaDbModule {
  createPool(config: object): MariaDbPool;
  version?: string;
}

const DEFAULT_CONNECTION_LIMIT = 10;

let mariadbModule: MariaDbModule | undefined;

/**
 * The mariadb connector that `@prisma/adapter-mariadb` itself depends on (it pins a version), so the
 * pool behaves exactly as the adapter's own would. Resolved from the adapter's location, not ours.
 */
function loadMariaDb(): MariaDbModule {
  mariadbModule ??= loadPeerDependency<MariaDbModule>('@prisma/adapter-mariadb', 'mariadb', () =>
    require('mariadb'),
  );
  return mariadbModule;
}

/**
 * Fails waiting connection requests at once when the pool cannot open a connection for an rds-iam
 * reason. The mariadb pool never fails a waiting request before `acquireTimeout` (10 s by default),
 * whatever went wrong; a failed mint, an unverifiable certificate or a token rejected twice must
 * surface as the `RdsIamError` that says what to fix, now.
 */
class AcquireGate {
  readonly #waiters = new Set<(err: Error) => void>();
  #rejections = 0;

  constructor(
    private readonly connector: IamConnector,
    private readonly connectionLimit: number,
  ) {}

  /** Rejects every request that is waiting for a new connection. */
  fail(err: Error): void {
    for (const abort of [...this.#waiters]) abort(err);
  }

  loginSucceeded(): void {
    this.#rejections = 0;
  }

  /**
   * A token was rejected. The token is already dropped and the pool retries on its own with a fresh
   * one; a second rejection in a row fails the waiting requests.
   */
  loginRejected(err: unknown): void {
    this.#rejections += 1;
    if (this.#rejections < 2) return;
    const { user, host, port } = this.connector;
    this.fail(
      new RdsIamError(
        'ERR_AUTH_REJECTED',
        `rds-iam: the server rejected the IAM token for ${user}@${host}:${port} twice (${describeError(err)}). Check that the user exists with IAM authentication enabled (MySQL/MariaDB: IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'), that the IAM policy allows rds-db:connect on this user and the instance's resource id, that the region is right, and that signingHost names the RDS endpoint when you dial a tunnel.`,
        { cause: err },
      ),
    );
  }

  async acquire(pool: MariaDbPool): Promise<MariaDbConnection> {
    if (pool.idleConnections() === 0 && pool.totalConnections() < this.connectionLimit) {
      // The pool is about to open a connection: have its token ready, and fail fast (the provider's
      // backoff answers at once) rather than wait out the pool's retry loop when no token can be had.
      await this.connector.password();
    }
    return new Promise<MariaDbConnection>((resolve, reject) => {
      let settled = false;
      const abort = (err: Error): void => {
        if (settled) return;
        settled = true;
        this.#waiters.delete(abort);
        reject(err);
      };
      this.#waiters.add(abort);
      pool.getConnection().then(
        (conn) => {
          if (settled) {
            // The request was failed early; the pool served it later. Give the connection back.
            conn.release().catch(() => {});
            return;
          }
          settled = true;
          this.#waiters.delete(abort);
          resolve(conn);
        },
        (err: unknown) => abort(unwrapPoolError(err)),
      );
    });
  }
}

/** A pool timeout caused by an rds-iam failure reads as that failure. */
function unwrapPoolError(err: unknown): Error {
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause instanceof RdsIamError) return cause;
  return err instanceof Error ? err : new Error(String(err));
}

/** Same pool, but connections are taken through the {@link AcquireGate}. */
function gatedPool(pool: MariaDbPool, gate: AcquireGate): MariaDbPool {
  const acquire = (): Promise<MariaDbConnection> => gate.acquire(pool);
  const withConnection = async <T>(use: (conn: MariaDbConnection) => Promise<T>): Promise<T> => {
    const conn = await acquire();
    try {
      return await use(conn);
    } finally {
      conn.release().catch(() => {});
    }
  };
  // The pool's own query/execute/batch take a connection internally; these take it through the gate
  // and run the statement on it, as the pool does.
  const overrides: Record<PropertyKey, unknown> = {
    getConnection: acquire,
    query: (sql: unknown, values?: unknown) => withConnection((c) => c.query(sql, values)),
    execute: (sql: unknown, values?: unknown) => withConnection((c) => c.execute(sql, values)),
    batch: (sql: unknown, values?: unknown) => withConnection((c) => c.batch(sql, values)),
  };
  return new Proxy(pool, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

type PrismaMariaDbClass = typeof PrismaMariaDb;
let cachedIamClass:
  | (new (
      config: MariaDbPoolConfig,
      createPool: () => MariaDbPool,
      adapterOptions: PrismaMariaDbAdapterOptions | undefined,
    ) => PrismaMariaDb)
  | undefined;

/**
 * `PrismaMariaDb` whose `connect()` (once per `$connect()`) creates a new IAM pool and hands it to
 * the stock adapter, which then owns it (`disposeExternalPool`) and ends it on `$disconnect()`.
 * Defined on first use: `@prisma/adapter-mariadb` is an optional peer dependency.
 */
function iamPrismaMariaDbClass(): NonNullable<typeof cachedIamClass> {
  if (cachedIamClass) return cachedIamClass;
  const { PrismaMariaDb: Base } = loadPeer<{ PrismaMariaDb: PrismaMariaDbClass }>(
    '@prisma/adapter-mariadb',
    'mysql',
    () => require('@prisma/adapter-mariadb'),
  );
  cachedIamClass = class IamPrismaMariaDb extends Base {
    readonly #createPool: () => MariaDbPool;
    readonly #adapterOptions: PrismaMariaDbAdapterOptions | undefined;

    constructor(
      config: MariaDbPoolConfig,
      createPool: () => MariaDbPool,
      adapterOptions: PrismaMariaDbAdapterOptions | undefined,
    ) {
      super(config, adapterOptions);
      this.#createPool = createPool;
      this.#adapterOptions = adapterOptions;
    }

    override async connect(): ReturnType<PrismaMariaDb['connect']> {
      const pool = this.#createPool();
      const adapter = new Base(pool as unknown as ConstructorParameters<PrismaMariaDbClass>[0], {
        ...this.#adapterOptions,
        disposeExternalPool: true,
      });
      try {
        return await adapter.connect();
      } catch (err) {
        await pool.end().catch(() => {});
        throw err;
      }
    }
  };
  return cachedIamClass;
}

/**
 * mariadb 3.4 (the version `@prisma/adapter-mariadb` 7 pins) opens connections only while fewer than
 * `minimumIdle` are idle, so with `minimumIdle: 0` it never opens one and every query waits out
 * `acquireTimeout`; 3.5 also opens connections for waiting requests. On 3.4, `minimumIdle: 0` becomes 1:
 * one idle connection stays open, the others still close after `idleTimeout`.
 */
/** @internal exported for tests. */
export function withWorkingMinimumIdle(
  config: MariaDbPoolConfig,
  version: string | undefined,
): MariaDbPoolConfig {
  const [major = 0, minor = 0] = (version ?? '').split('.').map(Number);
  const opensOnDemand = major > 3 || (major === 3 && minor >= 5);
  const { minimumIdle } = config as { minimumIdle?: unknown };
  if (opensOnDemand || minimumIdle === undefined || Number(minimumIdle) >= 1) return config;
  return { ...config, minimumIdle: 1 } as MariaDbPoolConfig;
}

/** Drops the `network` logger: the connector's packet dumps would contain the token. */
function safeLogger(logger: unknown): MariaDbLogger | undefined {
  if (logger === undefined || logger === null) return undefined;
  if (typeof logger === 'function') {
    const fn = logger as (msg: unknown) => void;
    return { query: fn, error: fn, warning: fn };
  }
  const { network: _network, ...rest } = logger as MariaDbLogger;
  return rest;
}

/** @internal the pool settings and what `iamPrismaMariaDb` builds around them. */
export function buildMariaDbConfig(options: IamPrismaMariaDbOptions): {
  config: MariaDbPoolConfig;
  connector: IamConnector;
  gate: AcquireGate;
  stream: MariaDbStream;
} {
  if (options === null || typeof options !== 'object') {
    throw new RdsIamError('ERR_INVALID_OPTION', 'rds-iam: options must be an object.');
  }
  const given = options as IamPrismaMariaDbOptions & {
    debug?: unknown;
    debugCompress?: unknown;
    logger?: unknown;
    stream?: unknown;
  };
  if (given.debug === true || given.debugCompress === true) {
    throw new RdsIamError(
      'ERR_CONFLICTING_OPTIONS',
      "rds-iam: `debug` / `debugCompress` make the mariadb connector dump every packet, including the one that carries the IAM token. Remove them; use `logger: { query, error, warning }` for the connector's logs.",
    );
  }
  if (given.stream !== undefined && typeof given.stream !== 'function') {
    throw new RdsIamError('ERR_INVALID_OPTION', 'rds-iam: `stream` must be a function.');
  }
  const { uri, ...explicit } = withoutPassword(options);
  const merged = mergeDatabaseUrl(explicit as IamPrismaMariaDbOptions, uri, {
    option: 'uri',
    protocols: ['mysql', 'mariadb'],
  });
  const { iam, rest } = splitIamOptions(merged);
  const {
    ssl,
    stream: userStream,
    logger,
    ...driver
  } = rest as typeof rest & {
    ssl?: IamConnectionOptions['ssl'];
    stream?: MariaDbStream;
    logger?: unknown;
  };
  const connector = createIamConnector(
    { ...iam, host: merged.host as string, port: merged.port, user: merged.user as string, ssl },
    'mysql',
  );
  const connectionLimit =
    typeof driver.connectionLimit === 'number' ? driver.connectionLimit : DEFAULT_CONNECTION_LIMIT;
  const gate = new AcquireGate(connector, connectionLimit);
  const stream = mariadbIamStream(
    connector,
    { fail: (err) => gate.fail(err), rejected: (err) => gate.loginRejected(err) },
    userStream,
  );
  const config = {
    // The adapter's default for a pool it creates itself: no client-side prepared statement cache.
    prepareCacheLength: 0,
    // The bound on one new connection, token included (see MARIADB_CONNECT_TIMEOUT_MS).
    connectTimeout: MARIADB_CONNECT_TIMEOUT_MS,
    ...driver,
    host: connector.host,
    port: connector.port,
    user: connector.user,
    ssl: connector.tls.ssl,
    stream,
    ...(logger === undefined ? {} : { logger: safeLogger(logger) }),
  } as MariaDbPoolConfig;
  return { config, connector, gate, stream };
}

/**
 * A Prisma 7 driver adapter for RDS MySQL, Aurora MySQL, RDS for MariaDB and RDS Proxy whose every
 * new physical connection logs in with a fresh IAM auth token (`mysql_clear_password`, as RDS asks),
 * only after TLS verified the server (RDS CAs, signing host's name).
 *
 * The mariadb connector has no password hook. rds-iam uses its per-connection `stream(callback)`
 * option to mint (or reuse) the token before each connection opens, and gives that connection a
 * `password` that reads as the token only once its TLS handshake verified (see the package README,
 * "How the mariadb hook works"). The pool is the connector that `@prisma/adapter-mariadb` pins,
 * created with your pool settings (`connectionLimit`, `minimumIdle`, `idleTimeout`,
 * `acquireTimeout`, ...), one per `$connect()`, and ended on `$disconnect()`.
 *
 * When no token can be had (credentials, signing), the certificate does not verify, or the server
 * rejects a fresh token twice, waiting queries fail at once with that `RdsIamError` instead of the
 * pool's `acquireTimeout` ("pool timeout", 10 s by default). One rejected token is dropped and the
 * pool's next attempt mints a new one.
 *
 * @param options the pool and IAM options.
 * @param adapterOptions `PrismaMariaDb`'s own options (`database`, `useTextProtocol`, ...).
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import { PrismaClient } from './generated/prisma/client.js';
 * import { iamPrismaMariaDb } from '@rds-iam/prisma/mariadb';
 *
 * const prisma = new PrismaClient({
 *   adapter: iamPrismaMariaDb({
 *     host: 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com',
 *     user: 'app',
 *     database: 'app',
 *     connectionLimit: 10,
 *   }),
 * });
 * ```
 */
export function iamPrismaMariaDb(
  options: IamPrismaMariaDbOptions,
  adapterOptions?: PrismaMariaDbAdapterOptions,
): PrismaMariaDb {
  const { config, gate } = buildMariaDbConfig(options);
  const createPool = (): MariaDbPool => {
    const mariadb = loadMariaDb();
    const pool = mariadb.createPool(withWorkingMinimumIdle(config, mariadb.version));
    pool.on('connection', () => gate.loginSucceeded());
    // The pool emits 'error' when it cannot open a connection; with no listener that would throw.
    // Requests learn about it through the gate or their own timeout.
    pool.on('error', () => {});
    return gatedPool(pool, gate);
  };
  const IamPrismaMariaDb = iamPrismaMariaDbClass();
  return new IamPrismaMariaDb(config, createPool, adapterOptions);
}
