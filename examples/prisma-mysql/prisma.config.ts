// The Prisma CLI's configuration.
// The URL is right, but Prisma's MySQL schema engine cannot send it: it has no mysql_clear_password,
// which RDS requires for IAM users (see the package README). Apply prisma/migrations with an IAM
// connection of your own (the example does), or diff with `prisma migrate diff --script`.
// --- snippet: prisma-config-mysql ---
import { iamDatabaseUrl } from '@rds-iam/prisma';
import { defineConfig } from 'prisma/config';

const env = process.env;
// Commands that need no database mint nothing (and need no AWS credentials).
const offline = ['generate', 'validate', 'format', 'version', '-v', '--version'];

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    url: offline.includes(process.argv[2] ?? '')
      ? undefined
      : await iamDatabaseUrl({
          engine: 'mysql',
          host: env.RDS_HOST ?? 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com',
          port: Number(env.RDS_PORT ?? 3306),
          user: env.RDS_USER ?? 'app',
          database: env.RDS_DATABASE ?? 'app',
          region: env.RDS_REGION,
          signingHost: env.RDS_SIGNING_HOST,
          signingPort: env.RDS_SIGNING_PORT ? Number(env.RDS_SIGNING_PORT) : undefined,
          ssl: env.RDS_CA_FILE ? { caFile: env.RDS_CA_FILE } : undefined, // default: RDS CAs
        }),
  },
});
// --- end snippet ---
