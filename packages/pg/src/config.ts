import type { EventEmitter } from 'node:events';
import {
  type ClosableSocket,
  createIamConnector,
  type IamConnectionOptions,
  type IamConnector,
  isLoopbackHost,
  RdsIamError,
  splitIamOptions,
  withoutPassword,
} from '@rds-iam/core';
import type pg from 'pg';
import { parseConnectionString } from './connection-string.js';

/**
 * Options of {@link pgIamConfig}, {@link createPool} and {@link createClient}: node-postgres's own pool
 * options (passed through untouched) plus rds-iam's (`region`, `signingHost`, `credentials`, ...).
 * A `password` is refused (`''` or `null` count as none): the token is the password.
 */
export interface PgIamOptions
  extends Omit<pg.PoolConfig, 'password' | 'ssl' | 'host' | 'port' | 'user' | 'Client'>,
    Omit<IamConnectionOptions, 'engine' | 'host' | 'user'> {
  /** The endpoint dialled. Required, here or in `connectionString`. */
  host?: string;
  /** The database user with IAM enabled. Required, here or in `connectionString`. */
  user?: string;
  /**
   * A `postgres://user@host:port/db` URL. It is parsed by rds-iam and merged under the explicit
   * options (explicit ones win), so it can never overwrite the password hook; a password in it is
   * refused.
   */
  connectionString?: string;
}

/**
 * A pool config ready for `new pg.Pool()`, with the pure-JS client pinned. `password` is the async
 * function node-postgres calls for each new connection: it always returns a promise of a token.
 */
export type PgIamPoolConfig = Omit<
  pg.PoolConfig,
  'password' | 'host' | 'port' | 'user' | 'Client'
> & {
  host: string;
  port: number;
  user: string;
  /** Resolves to a valid IAM auth token (never a plain string), minted or from the cache. */
  password: () => Promise<string>;
  Client: typeof pg.Client;
};

/**
 * `connectionTimeoutMillis` when it is not given: the bound on one new connection (TCP, TLS, token,
 * login) and on a pool's wait for a free client. node-postgres's own default is none, so a server or
 * proxy that accepts the connection and never answers would hold the caller for ever. 30 s, as
 * postgres.js's `connect_timeout`, and well above `credentialsTimeoutMs` (5 s), so a hung credential
 * source is reported as such rather than as a connection timeout. Pass `0` for pg's unbounded wait.
 */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 30_000;

/**
 * The pure-JavaScript client, even when NODE_PG_FORCE_NATIVE makes `pg` export pg-native: pg-native
 * turns a password function into text, which would send "() => ..." as the password.
 */
export function pureJsClient(): typeof pg.Client {
  // A literal require(), so that bundlers see it.
  return require('pg/lib/client.js') as typeof pg.Client;
}

/**
 * {@link pgIamConfig}'s config together with the connector behind it, for integrations that own
 * the pool (knex): `connector.connect(open)` retries a rejected login once with a fresh token, and
 * `connector.close()` lets go of the token cache.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * const { config, connector } = pgIamSetup({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'app' });
 * const client = await connector.connect(async () => {
 *   const c = new config.Client(config);
 *   await c.connect();
 *   return c;
 * });
 * ```
 */
export function pgIamSetup(options: PgIamOptions): {
  config: PgIamPoolConfig;
  connector: IamConnector;
} {
  if (options === null || typeof options !== 'object') {
    throw new RdsIamError('ERR_INVALID_OPTION', 'rds-iam: options must be an object.');
  }
  const { connectionString, ...explicit } = withoutPassword(options);
  const fromUrl = connectionString === undefined ? {} : parseConnectionString(connectionString);
  const merged = { ...fromUrl, ...stripUndefined(explicit) } as PgIamOptions;
  if (
    fromUrl.ssl === false &&
    explicit.ssl === undefined &&
    merged.host &&
    !isLoopbackHost(merged.host)
  ) {
    throw new RdsIamError(
      'ERR_TLS_REQUIRED',
      `rds-iam: \`connectionString\` has sslmode=disable towards '${merged.host}', which would send the IAM token as a cleartext password over the network. Remove sslmode=disable: rds-iam verifies TLS against the RDS CAs by default.`,
    );
  }
  const { iam, rest } = splitIamOptions(merged);
  const { ssl, ...driver } = rest as typeof rest & { ssl?: IamConnectionOptions['ssl'] };
  const connector = createIamConnector(
    { ...iam, host: merged.host as string, port: merged.port, user: merged.user as string, ssl },
    'postgres',
  );
  // pg calls the password function as a method of the Client being connected, so the hook can watch
  // that connection's handshake and drop a token the server rejects, whoever owns the pool.
  async function password(this: unknown): Promise<string> {
    const connection = (
      this as { connection?: Partial<EventEmitter> & { stream?: ClosableSocket } } | undefined
    )?.connection;
    const token = await connector.password(connection?.stream);
    connection?.once?.('errorMessage', (message: unknown) => connector.loginFailed(token, message));
    return token;
  }
  const config: PgIamPoolConfig = {
    ...driver,
    connectionTimeoutMillis: driver.connectionTimeoutMillis ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    host: connector.host,
    port: connector.port,
    user: connector.user,
    password,
    ssl: connector.tls.ssl,
    Client: pureJsClient(),
  };
  return { config, connector };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * A node-postgres pool or client config that logs in with IAM: `password` is an async function that
 * returns a fresh token for each new physical connection, and TLS is verified against the RDS CAs.
 * Spread it into `new pg.Pool(...)` or `new pg.Client(...)`; nothing in it goes stale.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { pgIamConfig } from '@rds-iam/pg';
 *
 * const pool = new pg.Pool(
 *   pgIamConfig({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'app', database: 'app', max: 10 }),
 * );
 * ```
 */
export function pgIamConfig(options: PgIamOptions): PgIamPoolConfig {
  return pgIamSetup(options).config;
}
