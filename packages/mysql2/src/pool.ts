import { type IamConnector, RdsIamError } from '@rds-iam/core';
import mysql from 'mysql2/promise';
import { type Mysql2IamOptions, mysql2IamSetup } from './config.js';

/**
 * Makes the pool's connect paths retry once with a fresh token after the server rejects a login.
 * Only logins can be rejected, so a retried `query` never ran the first time.
 */
function withRetry(pool: mysql.Pool, connector: IamConnector): mysql.Pool {
  const getConnection = pool.getConnection.bind(pool);
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  const execute = pool.execute.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  const end = pool.end.bind(pool);
  Object.assign(pool, {
    end: (...args: unknown[]) => {
      refuseCallback('end', args);
      return end().finally(() => connector.close());
    },
    getConnection: (...args: unknown[]) => {
      refuseCallback('getConnection', args);
      return connector.connect(getConnection);
    },
    query: (...args: unknown[]) => {
      refuseCallback('query', args);
      return connector.connect(() => query(...args));
    },
    execute: (...args: unknown[]) => {
      refuseCallback('execute', args);
      return connector.connect(() => execute(...args));
    },
  });
  return pool;
}

/**
 * A promise pool never calls a callback: whoever passed one (Kysely's `MysqlDialect` calls
 * `getConnection(callback)` and `end(callback)`) would wait for ever. Refused at once instead.
 */
function refuseCallback(method: string, args: readonly unknown[]): void {
  if (!args.some((arg) => typeof arg === 'function')) return;
  throw new RdsIamError(
    'ERR_CALLBACK_NOT_SUPPORTED',
    `rds-iam: \`${method}()\` of the promise pool from createPool() was given a callback, which it never calls. For a library that takes mysql2's callback pool (Kysely's MysqlDialect), use createCallbackPool() from @rds-iam/mysql2: \`new MysqlDialect({ pool: createCallbackPool(options) })\`.`,
  );
}

/**
 * Creates a mysql2 promise pool that logs in with IAM auth tokens, for months of uptime.
 *
 * @example
 * ```ts
 * import { createPool } from '@rds-iam/mysql2';
 *
 * const pool = createPool({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'app', database: 'app' });
 * const [rows] = await pool.query('SELECT NOW() AS now');
 * ```
 */
export function createPool(options: Mysql2IamOptions): mysql.Pool {
  const { config, connector } = mysql2IamSetup(options);
  return withRetry(mysql.createPool(config), connector);
}

/**
 * Opens one mysql2 promise connection with an IAM auth token, retrying once with a fresh token if the
 * server rejects it.
 *
 * @example
 * ```ts
 * const connection = await createConnection({ host, user: 'app', database: 'app' });
 * ```
 */
export function createConnection(options: Mysql2IamOptions): Promise<mysql.Connection> {
  const { config, connector } = mysql2IamSetup(options);
  return connector
    .connect(() => mysql.createConnection(config))
    .then((connection) => {
      // The promise wrapper's `connection` is the core connection, which emits 'end' when it closes.
      (connection as unknown as { connection: import('node:events').EventEmitter }).connection.once(
        'end',
        () => connector.close(),
      );
      return connection;
    });
}
