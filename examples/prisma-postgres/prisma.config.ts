// The Prisma CLI's configuration.
// `prisma migrate deploy` logs in with a fresh IAM token (valid 15 minutes, minted when the CLI starts),
// over TLS verified against the RDS CAs.
// --- snippet: prisma-config-postgres ---
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
          engine: 'postgres',
          host: env.RDS_HOST ?? 'mydb.cluster-abc123xyz.eu-west-1.rds.amazonaws.com',
          port: Number(env.RDS_PORT ?? 5432),
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
