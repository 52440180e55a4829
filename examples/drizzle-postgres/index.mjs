// Drizzle ORM on a @rds-iam/pg pool: every new connection logs in with a fresh IAM auth token.
// Drizzle takes the pool as it is; there is no Drizzle package.
//
//   pnpm --filter @rds-iam/example-drizzle-postgres start
//
// runs it against the rds-iam emulator in front of the local PostgreSQL. With RDS_HOST, RDS_USER,
// RDS_DATABASE (and AWS credentials in the environment) it logs in to that RDS endpoint instead; see
// ../local-endpoint for every variable.
import { exampleTarget } from '@rds-iam/example-local-endpoint';
import { sql } from 'drizzle-orm';

const { host, port, user, database, iam, close } = await exampleTarget('postgres');

// --- snippet: drizzle-postgres ---
import { createPool } from '@rds-iam/pg';
import { drizzle } from 'drizzle-orm/node-postgres';

const pool = createPool({
  host, // e.g. 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com': the region comes from the name
  port,
  user, // a database user with IAM enabled (GRANT rds_iam TO app)
  database,
  max: 10,
  onEvent: (e) => {
    if (e.type === 'minted') console.log(`minted a token for ${e.user}@${e.host}:${e.port}`);
  },
  ...iam, // empty on RDS; for the local emulator: signingHost, region, credentials, ssl: { ca }
});
const db = drizzle({ client: pool });
// --- end snippet ---

const { rows } = await db.execute(sql`SELECT current_user AS "user", version() AS version`);
await db.transaction(async (tx) => {
  await tx.execute(sql`SELECT 1`);
});
console.log(
  `logged in as ${rows[0].user} to ${database} via ${host}:${port}; ` +
    `Drizzle on a pool whose connections log in with IAM tokens (${rows[0].version.split(',')[0]})`,
);
await pool.end();
await close();
