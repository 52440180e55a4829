// Kysely on a @rds-iam/mysql2 pool: every new connection logs in with a fresh IAM auth token.
// MysqlDialect calls mysql2's callback API, so it gets createCallbackPool's pool, which retries a
// rejected login once as the promise pool does (the promise pool's `.pool` would skip that).
//
//   pnpm --filter @rds-iam/example-kysely-mysql start
//
// runs it against the rds-iam emulator in front of the local MySQL / MariaDB. With RDS_HOST,
// RDS_USER, RDS_DATABASE (and AWS credentials in the environment) it logs in to that RDS endpoint
// instead; see ../local-endpoint for every variable.
import { exampleTarget } from '@rds-iam/example-local-endpoint';
import { sql } from 'kysely';

const { host, port, user, database, iam, close } = await exampleTarget('mysql');

// --- snippet: kysely-mysql ---
import { createCallbackPool } from '@rds-iam/mysql2';
import { Kysely, MysqlDialect } from 'kysely';

// MysqlDialect speaks mysql2's callback API: createCallbackPool is the IAM pool with that API.
const pool = createCallbackPool({
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
const db = new Kysely({ dialect: new MysqlDialect({ pool }) });
// --- end snippet ---

const { rows } =
  await sql`SELECT SUBSTRING_INDEX(USER(), '@', 1) AS user, VERSION() AS version`.execute(db);
await db.transaction().execute((trx) => sql`SELECT 1`.execute(trx));
console.log(
  `logged in as ${rows[0].user} to ${database} via ${host}:${port}; ` +
    `Kysely on a pool whose connections log in with IAM tokens (server ${rows[0].version})`,
);
await db.destroy();
await close();
