/**
 * `@rds-iam/prisma`: Prisma 7 driver adapters that log in to Amazon RDS, Aurora and RDS Proxy with IAM
 * auth tokens (PostgreSQL through `@prisma/adapter-pg`, MySQL and MariaDB through
 * `@prisma/adapter-mariadb`), and a connection URL with a fresh token for the Prisma CLI.
 *
 * @example
 * ```ts
 * import { iamPrismaPg } from '@rds-iam/prisma';
 * import { PrismaClient } from './generated/prisma/client.js';
 *
 * const prisma = new PrismaClient({ adapter: iamPrismaPg({ host, user: 'app', database: 'app' }) });
 * ```
 * @packageDocumentation
 */
export {
  type IamPrismaMariaDbOptions,
  iamPrismaMariaDb,
  type MariaDbPoolConfig,
  type PrismaMariaDbAdapterOptions,
} from './mariadb.js';
export { type IamPrismaPgOptions, iamPrismaPg, type PrismaPgAdapterOptions } from './pg.js';
export { type IamDatabaseUrlOptions, type IamDatabaseUrlTls, iamDatabaseUrl } from './url.js';
