// The cold-start baseline of bench.mjs: the same handler on plain node-postgres, with a token minted
// beforehand by `@aws-sdk/rds-signer` and passed in RDS_TOKEN. It works for 15 minutes only; it is
// the floor rds-iam is measured against, not a way to run.
import { readFileSync } from 'node:fs';
import pg from 'pg';

const env = process.env;
const pool = new pg.Pool({
  host: env.RDS_HOST,
  port: Number(env.RDS_PORT ?? 5432),
  user: env.RDS_USER,
  database: env.RDS_DATABASE,
  password: env.RDS_TOKEN,
  max: 1,
  allowExitOnIdle: true,
  ssl: { ca: readFileSync(env.RDS_CA_FILE, 'utf8'), servername: env.RDS_SIGNING_HOST },
});

export const handler = async (event) => {
  const { rows } = await pool.query('SELECT current_user AS "user", $1::text AS echo', [
    String(event?.echo ?? ''),
  ]);
  return { statusCode: 200, body: JSON.stringify(rows[0]) };
};
