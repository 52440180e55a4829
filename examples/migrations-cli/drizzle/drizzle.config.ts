// Drizzle Kit's configuration. Drizzle Kit loads it synchronously and checks that a password is a
// non-empty string, so it can take neither a password function nor a token minted here (that needs
// an await): the URL is minted before the run, with a token good for new connections for 15 minutes,
// and TLS verified against the CA file:
//   DATABASE_URL="$(npx rds-iam url --engine postgres --host "$RDS_HOST" --user "$RDS_USER" \
//     --database "$RDS_DATABASE" --ca-file global-bundle.pem)" npx drizzle-kit migrate
// For what stays open longer (drizzle-kit studio), run the local IAM proxy, `rds-iam proxy`, and
// point the URL at it.
// --- snippet: migrations-cli-drizzle-kit ---
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './schema.mjs',
  out: './migrations',
  dbCredentials: { url: process.env.DATABASE_URL ?? '' }, // from `rds-iam url`
  migrations: { table: 'cli_drizzle_migrations' },
});
// --- end snippet ---
