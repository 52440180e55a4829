import type { PrismaPg } from '@prisma/adapter-pg';
import { type PgIamOptions, pgIamConfig } from '@rds-iam/pg';
import { loadPeer } from './peer.js';

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
 * Built on `pgIamConfig()` from `@rds-iam/pg`: the adapter gets a pool *config*, not a pool, so
 * `@prisma/adapter-pg` creates its `pg.Pool` from its own copy of `pg` (a `pg.Pool` from another copy
 * fails the adapter's `instanceof` check and crashes it). The config keeps the async `password`
 * function (called for each new connection, so nothing goes stale), the verify-full `ssl` options and
 * the pure-JS `Client` (pg-native would turn the password function into text); `PrismaPg` passes
 * all three through to `new pg.Pool(config)`, also for the shadow database of `prisma migrate dev`.
 *
 * A token the server rejects is dropped from inside the handshake, so the next connection mints a new
 * one; the query that hit the rejection fails (Prisma does not retry it).
 *
 * @param options the pool and IAM options.
 * @param adapterOptions `PrismaPg`'s own options (`schema`, `onPoolError`, `onConnectionError`, ...).
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import { PrismaClient } from './generated/prisma/client.js';
 * import { iamPrismaPg } from '@rds-iam/prisma';
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
  const config = pgIamConfig(options);
  const { PrismaPg } = loadPeer<typeof import('@prisma/adapter-pg')>('@prisma/adapter-pg', 'pg');
  // `PrismaPg` declares its parameter with its own copy of @types/pg; the config is a plain object.
  return new PrismaPg(config as ConstructorParameters<typeof PrismaPg>[0], adapterOptions);
}
