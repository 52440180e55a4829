import type { IamConnector } from '@rds-iam/core';
import pg from 'pg';
import { type PgIamOptions, type PgIamPoolConfig, pgIamSetup } from './config.js';

/** pg-pool's callback form of `connect()`. */
export type PoolConnectCallback = (
  err: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: unknown) => void,
) => void;

/**
 * Runs a pool's `connect()` through the connector (one retry with a fresh token after a rejected
 * login) and answers in whichever form the caller used: promise or pg-pool's callback.
 */
export function connectThrough(
  connector: IamConnector,
  connect: () => Promise<pg.PoolClient>,
  callback: PoolConnectCallback | undefined,
): Promise<pg.PoolClient> | undefined {
  const connecting = connector.connect(connect);
  if (!callback) return connecting;
  connecting.then(
    (client) => callback(undefined, client, (release) => client.release(release as Error)),
    (err: Error) => callback(err, undefined, () => {}),
  );
  return undefined;
}

/** node-postgres's module as {@link pgIamDriver} hands it out. */
export type PgIamDriver = typeof pg;

/**
 * node-postgres's module for code that builds its own pools from it (TypeORM's `driver` option):
 * its `Pool` retries a rejected login once with a fresh token, as {@link createPool}'s does, and
 * `native` is `null` so pg-native (which cannot call a password function) is never picked. Pass
 * `config` to that pool; the module and the config belong together.
 *
 * @param options the pool and IAM options, as for {@link createPool}.
 * @param base the `pg` module to build on. Default: the one `@rds-iam/pg` resolves. Pass another
 *   copy when the pool must be an `instanceof` that copy's `Pool` (Prisma's adapter checks that).
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import { pgIamDriver } from '@rds-iam/pg';
 *
 * const { driver, config } = pgIamDriver({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'app' });
 * const pool = new driver.Pool(config);
 * ```
 */
export function pgIamDriver(
  options: PgIamOptions,
  base: typeof pg = pg,
): {
  config: PgIamPoolConfig;
  driver: PgIamDriver;
} {
  const { config, connector } = pgIamSetup(options);
  class Pool extends base.Pool {
    // TypeORM builds the pool options itself and sets `connectionTimeoutMillis: undefined` when its
    // `connectTimeoutMS` is not given: such a pool still gets rds-iam's bound.
    constructor(poolOptions?: pg.PoolConfig) {
      super({
        ...poolOptions,
        connectionTimeoutMillis:
          poolOptions?.connectionTimeoutMillis === undefined
            ? config.connectionTimeoutMillis
            : poolOptions.connectionTimeoutMillis,
        // The settings rds-iam made, not a copy an ORM took of them: its connections can share one
        // TLS context (a copied one is left alone, since a deep copy of a context crashes Node).
        ...(poolOptions?.ssl !== undefined && poolOptions.ssl === config.ssl
          ? { ssl: connector.tls.sharedSsl }
          : {}),
      });
    }

    override connect(): Promise<pg.PoolClient>;
    override connect(callback: PoolConnectCallback): void;
    override connect(callback?: PoolConnectCallback): Promise<pg.PoolClient> | undefined {
      return connectThrough(connector, () => super.connect(), callback);
    }
  }
  const driver = Object.create(base, {
    Pool: { value: Pool, enumerable: true },
    Client: { value: config.Client, enumerable: true },
    native: { value: null, enumerable: true },
  }) as PgIamDriver;
  return { config, driver };
}
