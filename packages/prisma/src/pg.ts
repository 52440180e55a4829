import type { PrismaPg } from '@prisma/adapter-pg';
import { type PgIamOptions, pgIamDriver } from '@rds-iam/pg';
import { loadPeer, loadPeerDependency } from './peer.js';

/** The second argument of `new PrismaPg(config, options)`: `schema`, `onPoolError`, ... */
export type PrismaPgAdapterOptions = NonNullable<ConstructorParameters<typeof PrismaPg>[1]>;

/**
 * Options of {@link iamPrismaPg}: every node-postgres pool option (`max`, `idleTimeoutMillis`,
 * `connectionTimeoutMillis`, `database`, ...) plus rds-iam's (`region`, `signingHost`,
 * `credentials`, `onEvent`, ...). The same options as `pgIamConfig` from `@rds-iam/pg`. `password` is
 * refused: the token is the password.
 */
export type IamPrismaPgOptions = PgIamOptions;

/**
 * A Prisma 7 driver adapter for PostgreSQL (RDS, Aurora, RDS Proxy) whose every new physical
 * connection logs in with a fresh IAM auth token, over TLS verified against the RDS CAs.
 *
 * Built on `pgIamDriver()` from `@rds-iam/pg`, over the adapter's own copy of `pg`: the adapter gets
 * a pool that is an `instanceof` its `pg.Pool` (a pool from another copy fails that check and the
 * adapter would treat it as a config), and whose `connect()` retries a login the server rejected
 * once, with a fresh token, so the query waiting for that connection runs. The pool's options keep
 * the async `password` function (called for each new connection, so nothing goes stale), the
 * verify-full `ssl` options and the pure-JS `Client` (pg-native would turn the password function
 * into text); the adapter reuses them for a pool of its own after `$disconnect()` and for the shadow
 * database of `prisma migrate dev`. The pool is the adapter's to end (`disposeExternalPool: true`,
 * unless you pass `false`).
 *
 * @param options the pool and IAM options.
 * @param adapterOptions `PrismaPg`'s own options (`schema`, `onPoolError`, `onConnectionError`, ...).
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import { PrismaClient } from './generated/prisma/client.js';
 * import { iamPrismaPg } from '@rds-iam/prisma/pg';
 *
 * const prisma = new PrismaClient({
 *   adapter: iamPrismaPg({
 *     host: 'mydb.cluster-abc123xyz.eu-west-1.rds.amazonaws.com',
 *     user: 'app',
 *     database: 'app',
 *     max: 10,
 *   }),
 * });
 * ```
 */
export function iamPrismaPg(
  options: IamPrismaPgOptions,
  adapterOptions?: PrismaPgAdapterOptions,
): PrismaPg {
  const { PrismaPg } = loadPeer<typeof import('@prisma/adapter-pg')>(
    '@prisma/adapter-pg',
    'pg',
    () => require('@prisma/adapter-pg'),
  );
  const adapterPg = loadPeerDependency<typeof import('pg')>('@prisma/adapter-pg', 'pg', () =>
    require('pg'),
  );
  const { config, driver } = pgIamDriver(options, adapterPg);
  const pool = new driver.Pool(config);
  // `PrismaPg` declares its parameter with its own copy of @types/pg.
  return new PrismaPg(pool as unknown as ConstructorParameters<typeof PrismaPg>[0], {
    disposeExternalPool: true,
    ...adapterOptions,
  });
}
