// The @rds-iam/mysql2 quick start: a mysql2 pool whose every new connection logs in with a fresh IAM
// auth token, sent over verified TLS.
//
//   pnpm --filter @rds-iam/example-mysql2-pool start
//
// runs it against the rds-iam emulator in front of the local MariaDB/MySQL. With RDS_HOST, RDS_USER,
// RDS_DATABASE (and AWS credentials in the environment) it logs in to that RDS endpoint instead; see
// ../local-endpoint for every variable.
import { exampleTarget } from '@rds-iam/example-local-endpoint';

const { host, port, user, database, iam, close } = await exampleTarget('mysql');

// --- snippet: mysql2-pool ---
import { createPool } from '@rds-iam/mysql2';

const pool = createPool({
  host, // e.g. 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com': the region comes from the name
  port,
  user, // a database user with IAM enabled (IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS')
  database,
  connectionLimit: 10,
  // Metrics and logs: events carry times, never the token.
  onEvent: (e) => {
    if (e.type === 'minted') console.log(`minted a token for ${e.user}@${e.host}:${e.port}`);
  },
  ...iam, // empty on RDS; for the local emulator: signingHost, region, credentials, ssl: { ca }
});

// Every new physical connection gets a fresh token; no enableCleartextPlugin needed.
const [rows] = await pool.query(
  'SELECT SUBSTRING_INDEX(USER(), "@", 1) AS user, VERSION() AS version',
);
// --- end snippet ---

// Three queries at once make the pool open more connections: one token serves them all.
const done = await Promise.all([1, 2, 3].map((n) => pool.query('SELECT ? AS n, SLEEP(0.05)', [n])));
console.log(
  `logged in as ${rows[0].user} to ${database} via ${host}:${port}; ` +
    `${done.length} queries at once on new connections, each with an IAM token (server ${rows[0].version})`,
);
await pool.end();
await close();
