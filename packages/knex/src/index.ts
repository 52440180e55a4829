import {
  type IamConnectionOptions,
  type IamConnector,
  loadEngine,
  RdsIamError,
  refuseForcedPgNative,
} from '@rds-iam/core';
import type { Mysql2IamOptions } from '@rds-iam/mysql2';
import type { PgIamOptions } from '@rds-iam/pg';
import type { Knex } from 'knex';

/** rds-iam's options next to the connection settings of a knex client, which name the endpoint. */
type IamSettings<Settings> = Omit<
  Settings,
  'password' | 'ssl' | 'host' | 'port' | 'user' | 'expirationChecker'
> &
  Omit<IamConnectionOptions, 'engine' | 'host' | 'user'> & {
    /** The endpoint dialled. Required, here or in the connection URL. */
    host?: string;
    /** The database user with IAM enabled. Required, here or in the connection URL. */
    user?: string;
  };

/**
 * `iamConnection()` options for knex's `pg` client: knex's connection settings for it (node-postgres's)
 * and rds-iam's. Typed with knex's own definitions, so an application needs neither `@types/pg` nor
 * the MySQL driver to compile against them.
 */
export interface KnexPgIamOptions extends IamSettings<Knex.PgConnectionConfig> {
  /** The knex client this connection is for. Default `'pg'`. */
  client?: 'pg' | 'postgres' | 'postgresql';
}

/** `iamConnection()` options for knex's `mysql2` client: knex's settings for mysql2 and rds-iam's. */
export interface KnexMysql2IamOptions extends IamSettings<Knex.MySql2ConnectionConfig> {
  client: 'mysql2';
}

/**
 * What {@link iamConnection} returns: a knex connection provider. knex calls it once, on its first
 * connection, and keeps the settings (there is no `expirationChecker`).
 */
export type IamKnexConnection<Settings> = () => Settings;

/** Marks a knex client whose `acquireRawConnection` already goes through a connector. */
const RETRYING = Symbol('rds-iam.retryingAcquire');

/**
 * The `connection` for `knex({ client, connection })`, logging in with IAM auth tokens. Each new
 * physical connection knex's pool opens gets a fresh token through the driver's own hook (pg's
 * password function, mysql2's cleartext plugin), so there is no `expirationChecker`, no refresh that
 * destroys healthy idle connections, and nothing that goes stale in months of uptime. A login the
 * server rejects (a token signed with revoked keys, say) is retried once with a fresh token inside
 * the same pool acquire, so it costs no failed query. knex's pool settings stay yours.
 *
 * It is a connection provider (a function) rather than a settings object because knex calls a
 * provider as a method of its client: that is how the retry reaches the pool's connection factory.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import knex from 'knex';
 * import { iamConnection } from '@rds-iam/knex';
 *
 * const db = knex({
 *   client: 'pg',
 *   connection: iamConnection({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'app', database: 'app' }),
 *   pool: { min: 0, max: 10 },
 * });
 * ```
 */
export function iamConnection(
  options: KnexPgIamOptions,
): IamKnexConnection<Knex.PgConnectionConfig>;
export function iamConnection(
  options: KnexMysql2IamOptions,
): IamKnexConnection<Knex.MySql2ConnectionConfig>;
export function iamConnection(
  options: KnexPgIamOptions | KnexMysql2IamOptions,
): IamKnexConnection<Knex.PgConnectionConfig | Knex.MySql2ConnectionConfig> {
  if (options === null || typeof options !== 'object') {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: iamConnection() takes an options object.',
    );
  }
  const { client = 'pg', ...rest } = options;
  if (client === 'mysql2') {
    // Loaded for a MySQL connection only: a PostgreSQL app needs no MySQL driver, and the reverse.
    const { mysql2IamSetup } = loadEngine(
      () => require('@rds-iam/mysql2') as typeof import('@rds-iam/mysql2'),
      'mysql2',
      '@rds-iam/knex',
    );
    const { config, connector } = mysql2IamSetup(rest as Mysql2IamOptions);
    return provider(config as Knex.MySql2ConnectionConfig, connector);
  }
  if (client === 'pg' || client === 'postgres' || client === 'postgresql') {
    // knex builds its connections from `require('pg').Client`.
    refuseForcedPgNative("knex's 'pg' client");
    const { pgIamSetup } = loadEngine(
      () => require('@rds-iam/pg') as typeof import('@rds-iam/pg'),
      'pg',
      '@rds-iam/knex',
    );
    // knex creates its clients from its own `pg` import; the pinned Client is not needed there.
    const {
      config: { Client: _pinnedClient, ...config },
      connector,
    } = pgIamSetup(rest as PgIamOptions);
    return provider(config as Knex.PgConnectionConfig, connector);
  }
  throw new RdsIamError(
    'ERR_INVALID_OPTION',
    `rds-iam: iamConnection() supports client 'pg' (default) and 'mysql2', got '${String(client)}'. Pass the same value as knex's own \`client\`.`,
  );
}

interface KnexClient {
  acquireRawConnection?: () => Promise<unknown>;
  [RETRYING]?: true;
}

/**
 * knex calls the provider as `client.connectionConfigProvider()`, on the way into its pool's
 * `create`: that first call routes the client's `acquireRawConnection` (the one place knex opens a
 * physical connection) through the connector's retry, before the connection is opened.
 */
function provider<Settings extends object>(
  settings: Settings,
  connector: IamConnector,
): IamKnexConnection<Settings> {
  return function iamConnectionSettings(this: unknown): Settings {
    const client = this as KnexClient | undefined;
    if (client && typeof client.acquireRawConnection === 'function' && !client[RETRYING]) {
      const acquire = client.acquireRawConnection;
      client.acquireRawConnection = function (this: unknown) {
        return connector.connect(() => acquire.call(this));
      };
      client[RETRYING] = true;
    }
    // A copy: knex may add to the settings it is given.
    return { ...settings };
  };
}
