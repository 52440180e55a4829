/**
 * `@rds-iam/prisma`: Prisma 7 driver adapters that log in to Amazon RDS, Aurora and RDS Proxy with IAM
 * auth tokens, and a connection URL with a fresh token for the Prisma CLI.
 *
 * The adapters have an entry point each, so that an application installs, loads and type-checks only
 * the Prisma adapter it uses: `@rds-iam/prisma/pg` (`iamPrismaPg`, over `@prisma/adapter-pg`) and
 * `@rds-iam/prisma/mariadb` (`iamPrismaMariaDb`, over `@prisma/adapter-mariadb`). This entry holds
 * what needs neither: `iamDatabaseUrl` for `prisma.config.ts`.
 *
 * @example
 * ```ts
 * import { iamPrismaPg } from '@rds-iam/prisma/pg';
 * import { PrismaClient } from './generated/prisma/client.js';
 *
 * const prisma = new PrismaClient({ adapter: iamPrismaPg({ host, user: 'app', database: 'app' }) });
 * ```
 * @packageDocumentation
 */
export { type IamDatabaseUrlOptions, type IamDatabaseUrlTls, iamDatabaseUrl } from './url.js';
