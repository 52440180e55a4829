// The Prisma CLI's configuration: `prisma migrate deploy` on RDS MySQL / MariaDB with IAM.
// Prisma's schema engine cannot send mysql_clear_password, which RDS requires for IAM users, so the
// config starts the local IAM proxy in the CLI's own process and points the CLI at it: the engine
// logs in to the proxy with a plain login, the proxy logs in to RDS with a fresh token over TLS.
// --- snippet: proxy-prisma-config ---
import { readFile } from 'node:fs/promises';
import { startLocalProxy } from '@rds-iam/proxy';
import { defineConfig } from 'prisma/config';

const env = process.env;
const database = env.RDS_DATABASE ?? 'app';
const proxy = await startLocalProxy({
  engine: 'mysql',
  host: env.RDS_HOST ?? 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com',
  port: Number(env.RDS_PORT ?? 3306),
  user: env.RDS_USER ?? 'app',
  database,
  region: env.RDS_REGION,
  signingHost: env.RDS_SIGNING_HOST,
  signingPort: env.RDS_SIGNING_PORT ? Number(env.RDS_SIGNING_PORT) : undefined,
  ssl: env.RDS_CA_FILE ? { ca: await readFile(env.RDS_CA_FILE, 'utf8') } : undefined, // default: RDS CAs
  listen: { host: '127.0.0.1', port: 0 }, // a free loopback port
  unref: true, // the CLI exits when its command is done
});

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: proxy.url(database) },
});
// --- end snippet ---
