import type { IamConnector } from '@rds-iam/core';
import type { Pool, PoolConnection, PoolOptions } from 'mysql2';
import { type Mysql2IamOptions, type Mysql2IamPoolOptions, mysql2IamSetup } from './config.js';

type GetConnectionCallback = (
  err: NodeJS.ErrnoException | null,
  connection: PoolConnection,
) => void;

/** mysql2's callback module as {@link mysql2IamDriver} hands it out. */
export type Mysql2IamDriver = typeof import('mysql2');

/**
 * mysql2's callback module for code that builds its own pools from it (TypeORM's `driver` option):
 * pools made by its `createPool` retry a rejected login once with a fresh token, in
 * `getConnection()` and so in `query()`, as {@link createPool}'s do. Pass `config` to that pool; the
 * module and the config belong together.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import { mysql2IamDriver } from '@rds-iam/mysql2';
 *
 * const { driver, config } = mysql2IamDriver({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'app' });
 * const pool = driver.createPool(config);
 * ```
 */
export function mysql2IamDriver(options: Mysql2IamOptions): {
  config: Mysql2IamPoolOptions;
  driver: Mysql2IamDriver;
} {
  const { config, connector } = mysql2IamSetup(options);
  const mysql = callbackModule();
  const driver = Object.create(mysql, {
    createPool: {
      value: (poolOptions: PoolOptions) => retrying(mysql.createPool(poolOptions), connector),
      enumerable: true,
    },
  }) as Mysql2IamDriver;
  return { config, driver };
}

/**
 * Creates a mysql2 pool with the callback API that logs in with IAM auth tokens, for libraries that
 * take one (Kysely's `MysqlDialect`): `getConnection()`, and so `query()` and `execute()`, retry a
 * rejected login once with a fresh token, and `end()` lets go of the token cache. For your own code,
 * {@link createPool}'s promise pool is the one to use.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import { createCallbackPool } from '@rds-iam/mysql2';
 * import { Kysely, MysqlDialect } from 'kysely';
 *
 * const db = new Kysely<Database>({
 *   dialect: new MysqlDialect({
 *     pool: createCallbackPool({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'app', database: 'app' }),
 *   }),
 * });
 * ```
 */
export function createCallbackPool(options: Mysql2IamOptions): Pool {
  const { config, connector } = mysql2IamSetup(options);
  const pool = retrying(callbackModule().createPool(config), connector);
  const end = pool.end.bind(pool);
  pool.end = (callback?: (err: NodeJS.ErrnoException | null) => void) =>
    end((err: NodeJS.ErrnoException | null) => {
      connector.close();
      callback?.(err);
    });
  return pool;
}

/**
 * The callback API, loaded as TypeORM loads it (mysql2's CommonJS entry); a literal require() so that
 * bundlers see it.
 */
function callbackModule(): Mysql2IamDriver {
  return require('mysql2') as Mysql2IamDriver;
}

/** Makes `pool.getConnection` go through the connector: one retry with a fresh token. */
function retrying(pool: Pool, connector: IamConnector): Pool {
  const getConnection = pool.getConnection.bind(pool);
  // mysql2's own query()/execute() call this.getConnection, so they are covered too.
  pool.getConnection = (callback: GetConnectionCallback) => {
    connector
      .connect(
        () =>
          new Promise<PoolConnection>((resolve, reject) =>
            getConnection((err, connection) => (err ? reject(err) : resolve(connection))),
          ),
      )
      .then(
        (connection) => callback(null, connection),
        (err: NodeJS.ErrnoException) => callback(err, undefined as unknown as PoolConnection),
      );
  };
  return pool;
}
