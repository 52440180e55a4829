// Drizzle ORM on a @rds-iam/mysql2 pool: every new connection logs in with a fresh IAM auth token.
// Drizzle takes the promise pool @rds-iam/mysql2 returns as it is; there is no Drizzle package.
//
//   pnpm --filter @rds-iam/example-drizzle-mysql start
//
// runs it against the rds-iam emulator in front of the local MySQL / MariaDB. With RDS_HOST,
// RDS_USER, RDS_DATABASE (and AWS credentials in the environment) it logs in to that RDS endpoint
// instead; see ../local-endpoint for every variable.
import { exampleTarget } from '@rds-iam/example-local-endpoint';
import { sql } from 'drizzle-orm';

const { host, port, user, database, iam, close } = await exampleTarget('mysql');

// --- snippet: drizzle-mysql ---
import { createPool } from '@rds-iam/mysql2';
import { drizzle } from 'drizzle-orm/mysql2';

const pool = createPool({
  host, // e.g. 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com': the region comes from the name
  port,
  user, // a database user with IAM enabled (IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS')
  database,
  connectionLimit: 10,
  onEvent: (e) => {
    if (e.type === 'minted') console.log(`minted a token for ${e.user}@${e.host}:${e.port}`);
  },
  ...iam, // empty on RDS; for the local emulator: signingHost, region, credentials, ssl: { ca }
});
const db = drizzle({ client: pool });
// --- end snippet ---

const [rows] = await db.execute(
  sql`SELECT SUBSTRING_INDEX(USER(), '@', 1) AS user, VERSION() AS version`,
);
await db.transaction(async (tx) => {
  await tx.execute(sql`SELECT 1`);
});
console.log(
  `logged in as ${rows[0].user} to ${database} via ${host}:${port}; ` +
    `Drizzle on a pool whose connections log in with IAM tokens (server ${rows[0].version})`,
);
await pool.end();
await close();
