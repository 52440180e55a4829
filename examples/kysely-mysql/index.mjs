// Kysely on a @rds-iam/mysql2 pool: every new connection logs in with a fresh IAM auth token.
// MysqlDialect calls mysql2's callback API, so the promise pool @rds-iam/mysql2 returns is handed
// over through a few lines that keep its retry of a rejected login (its `.pool` would skip that).
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
import { createPool } from '@rds-iam/mysql2';
import { Kysely, MysqlDialect } from 'kysely';

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
// MysqlDialect speaks mysql2's callback API: give it the IAM pool's connections that way.
const db = new Kysely({
  dialect: new MysqlDialect({
    pool: {
      getConnection: (cb) => pool.getConnection().then((c) => cb(null, c.connection), cb),
      end: (cb) => pool.end().then(() => cb(null), cb),
    },
  }),
});
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
