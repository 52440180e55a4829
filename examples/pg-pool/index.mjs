// The @rds-iam/pg quick start: a node-postgres pool whose every new connection logs in with a fresh
// IAM auth token.
//
//   pnpm --filter @rds-iam/example-pg-pool start
//
// runs it against the rds-iam emulator in front of the local PostgreSQL. With RDS_HOST, RDS_USER,
// RDS_DATABASE (and AWS credentials in the environment) it logs in to that RDS endpoint instead; see
// ../local-endpoint for every variable.
import { exampleTarget } from '@rds-iam/example-local-endpoint';

const { host, port, user, database, iam, close } = await exampleTarget('postgres');

// --- snippet: pg-pool ---
import { createPool } from '@rds-iam/pg';

const pool = createPool({
  host, // e.g. 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com': the region comes from the name
  port,
  user, // a database user with IAM enabled (GRANT rds_iam TO app)
  database,
  max: 10,
  // Metrics and logs: events carry times, never the token.
  onEvent: (e) => {
    if (e.type === 'minted') console.log(`minted a token for ${e.user}@${e.host}:${e.port}`);
  },
  ...iam, // empty on RDS; for the local emulator: signingHost, region, credentials, ssl: { ca }
});

// Every new physical connection gets a fresh token; the pool is never rebuilt.
const { rows } = await pool.query('SELECT current_user AS "user", version() AS version');
// --- end snippet ---

// Three queries at once make the pool open more connections: one token serves them all.
await Promise.all([1, 2, 3].map((n) => pool.query('SELECT $1::int AS n, pg_sleep(0.05)', [n])));
console.log(
  `logged in as ${rows[0].user} to ${database} via ${host}:${port}; ` +
    `${pool.totalCount} connections open, each with an IAM token (${rows[0].version.split(',')[0]})`,
);
await pool.end();
await close();
