// The @rds-iam/postgres quick start: postgres.js whose every new connection logs in with a fresh IAM
// auth token.
//
//   pnpm --filter @rds-iam/example-postgres-js start
//
// runs it against the rds-iam emulator in front of the local PostgreSQL. With RDS_HOST, RDS_USER,
// RDS_DATABASE (and AWS credentials in the environment) it logs in to that RDS endpoint instead; see
// ../local-endpoint for every variable.
import { exampleTarget } from '@rds-iam/example-local-endpoint';

const { host, port, user, database, iam, close } = await exampleTarget('postgres');

// --- snippet: postgres-js ---
import { iamPostgresOptions } from '@rds-iam/postgres';
import postgres from 'postgres';

const sql = postgres(
  iamPostgresOptions({
    host, // e.g. 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com': the region comes from the name
    port,
    username: user, // a database user with IAM enabled (GRANT rds_iam TO app); or `user`
    database,
    max: 10,
    // Metrics and logs: events carry times, never the token.
    onEvent: (e) => {
      if (e.type === 'minted') console.log(`minted a token for ${e.user}@${e.host}:${e.port}`);
    },
    ...iam, // empty on RDS; for the local emulator: signingHost, region, credentials, ssl: { ca }
  }),
);

// Every new connection gets a fresh token through postgres.js's `pass`; TLS is verified.
const [me] = await sql`SELECT current_user AS "user", version() AS version`;
// --- end snippet ---

// Three queries at once make postgres.js open more connections: one token serves them all.
await Promise.all([1, 2, 3].map((n) => sql`SELECT ${n}::int AS n, pg_sleep(0.05)`));
console.log(
  `logged in as ${me.user} to ${database} via ${host}:${port}; ` +
    `queries on new connections, each with an IAM token (${me.version.split(',')[0]})`,
);
await sql.end();
await close();
