import { RdsIamError } from '@rds-iam/core';
import { type Mysql2IamOptions, mysql2IamConfig } from '@rds-iam/mysql2';
import { type PgIamOptions, pgIamConfig } from '@rds-iam/pg';
import type { Knex } from 'knex';

/** `iamConnection()` options for knex's `pg` client: node-postgres's and rds-iam's. */
export interface KnexPgIamOptions extends PgIamOptions {
  /** The knex client this connection is for. Default `'pg'`. */
  client?: 'pg' | 'postgres' | 'postgresql';
}

/** `iamConnection()` options for knex's `mysql2` client: mysql2's and rds-iam's. */
export interface KnexMysql2IamOptions extends Mysql2IamOptions {
  client: 'mysql2';
}

/**
 * The `connection` for `knex({ client, connection })`, logging in with IAM auth tokens. Each new
 * physical connection knex's pool opens gets a fresh token through the driver's own hook (pg's
 * password function, mysql2's cleartext plugin), so there is no `expirationChecker`, no refresh that
 * destroys healthy idle connections, and nothing that goes stale in months of uptime. knex's pool
 * settings stay yours.
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
export function iamConnection(options: KnexPgIamOptions): Knex.PgConnectionConfig;
export function iamConnection(options: KnexMysql2IamOptions): Knex.MySql2ConnectionConfig;
export function iamConnection(
  options: KnexPgIamOptions | KnexMysql2IamOptions,
): Knex.PgConnectionConfig | Knex.MySql2ConnectionConfig {
  if (options === null || typeof options !== 'object') {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: iamConnection() takes an options object.',
    );
  }
  const { client = 'pg', ...rest } = options;
  if (client === 'mysql2') {
    return mysql2IamConfig(rest as Mysql2IamOptions) as Knex.MySql2ConnectionConfig;
  }
  if (client === 'pg' || client === 'postgres' || client === 'postgresql') {
    // knex builds its connections from `require('pg').Client`, which NODE_PG_FORCE_NATIVE turns into
    // pg-native: that sends the password function's source text as the password and ignores `ssl`.
    if (process.env.NODE_PG_FORCE_NATIVE) {
      throw new RdsIamError(
        'ERR_CONFLICTING_OPTIONS',
        "rds-iam: NODE_PG_FORCE_NATIVE is set, so knex's 'pg' client would use pg-native, which cannot call a password function (it would send the function's text) and ignores the `ssl` options. Unset NODE_PG_FORCE_NATIVE for this process: knex then uses the pure-JavaScript pg client, pg-native installed or not.",
      );
    }
    // knex creates its clients from its own `pg` import; the pinned Client is not needed there.
    const { Client: _pinnedClient, ...config } = pgIamConfig(rest as PgIamOptions);
    return config as Knex.PgConnectionConfig;
  }
  throw new RdsIamError(
    'ERR_INVALID_OPTION',
    `rds-iam: iamConnection() supports client 'pg' (default) and 'mysql2', got '${String(client)}'. Pass the same value as knex's own \`client\`.`,
  );
}

export type { Mysql2IamOptions, PgIamOptions };
