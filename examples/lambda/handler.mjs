// An AWS Lambda handler that logs in to RDS with IAM through @rds-iam/pg. Bundle it with esbuild as
// CDK's NodejsFunction, SAM and serverless do (build.mjs), and invoke it locally against the rds-iam
// emulator (invoke.mjs): no AWS account needed.
//
// On Lambda, set RDS_HOST, RDS_USER and RDS_DATABASE on the function and give its role
// `rds-db:connect` on the user's dbuser ARN (`rds-iam policy` writes that policy). The credentials
// come from the environment Lambda sets (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN); nothing else of the AWS SDK's credential chain is loaded. The RDS CAs travel
// inside the bundle. RDS_SIGNING_HOST, RDS_SIGNING_PORT, RDS_REGION and RDS_CA_FILE are for the local run only.
import { readFileSync } from 'node:fs';

const env = process.env;
const local = env.RDS_CA_FILE
  ? {
      signingHost: env.RDS_SIGNING_HOST,
      signingPort: Number(env.RDS_SIGNING_PORT),
      region: env.RDS_REGION,
      ssl: { ca: readFileSync(env.RDS_CA_FILE, 'utf8') },
    }
  : {};

// --- snippet: lambda ---
import { createPool } from '@rds-iam/pg';

// Module scope: created once per Lambda instance (at cold start) and reused by every invocation it
// serves. Each new connection gets a fresh token from the cache, so an instance that lives for
// hours never logs in with a dead one.
const pool = createPool({
  host: env.RDS_HOST, // the RDS, Aurora or RDS Proxy endpoint; the region comes from its name
  port: Number(env.RDS_PORT ?? 5432),
  user: env.RDS_USER, // GRANT rds_iam TO app
  database: env.RDS_DATABASE,
  max: 1, // an instance serves one request at a time
  allowExitOnIdle: true, // no idle socket or timer keeps a local run (or a test) alive
  ...local, // empty on Lambda
});

export const handler = async (event) => {
  const { rows } = await pool.query('SELECT current_user AS "user", $1::text AS echo', [
    String(event?.echo ?? ''),
  ]);
  return { statusCode: 200, body: JSON.stringify(rows[0]) };
};
// --- end snippet ---
