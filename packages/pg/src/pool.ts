import type { IamConnector } from '@rds-iam/core';
import pg from 'pg';
import { type PgIamOptions, pgIamSetup } from './config.js';
import { connectThrough, type PoolConnectCallback } from './driver.js';

/**
 * A `pg.Pool` whose new connections log in with IAM. A connection the server rejects (a token it
 * would not take) is retried once with a fresh token, inside `connect()` and so inside `query()`.
 */
export class IamPool extends pg.Pool {
  readonly #connector: IamConnector;

  constructor(options: PgIamOptions) {
    const { config, connector } = pgIamSetup(options);
    // pg hands `ssl` to tls.connect as it is: all the pool's connections share one TLS context.
    super({ ...config, ssl: connector.tls.sharedSsl });
    this.#connector = connector;
    // An idle client whose server went away emits 'error' on the pool; without a listener Node would
    // crash the process. The pool already discards that client.
    this.on('error', () => {});
  }

  override end(): Promise<void>;
  override end(callback: () => void): void;
  override end(callback?: () => void): Promise<void> | undefined {
    const ending = super.end().finally(() => this.#connector.close());
    if (!callback) return ending;
    ending.then(callback, callback);
    return undefined;
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: PoolConnectCallback): void;
  override connect(callback?: PoolConnectCallback): Promise<pg.PoolClient> | undefined {
    return connectThrough(this.#connector, () => super.connect(), callback);
  }
}

/**
 * Creates a node-postgres pool that logs in with IAM auth tokens, for months of uptime.
 *
 * @example
 * ```ts
 * import { createPool } from '@rds-iam/pg';
 *
 * const pool = createPool({
 *   host: 'mydb.abc123.us-east-1.rds.amazonaws.com',
 *   user: 'app',
 *   database: 'app',
 * });
 * const { rows } = await pool.query('SELECT now()');
 * ```
 */
export function createPool(options: PgIamOptions): IamPool {
  return new IamPool(options);
}

/**
 * Creates a single node-postgres client that logs in with an IAM auth token when you call
 * `connect()`. Prefer {@link createPool} for applications; a client cannot reconnect.
 *
 * @example
 * ```ts
 * const client = createClient({ host, user: 'app', database: 'app' });
 * await client.connect();
 * ```
 */
export function createClient(options: PgIamOptions): pg.Client {
  const { config, connector } = pgIamSetup(options);
  const { Client, ...clientConfig } = config;
  const client = new Client({ ...clientConfig, ssl: connector.tls.sharedSsl });
  client.once('end', () => connector.close());
  return client;
}
