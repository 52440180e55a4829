// The README's quick start for @rds-iam/core: a node-postgres pool whose every new connection logs
// in with a fresh IAM auth token.
//
// Against real RDS:   RDS_HOST=mydb.abc123.eu-west-1.rds.amazonaws.com RDS_USER=app RDS_DATABASE=app node index.mjs
// Against the emulator (what the tests do): also RDS_PORT, RDS_SIGNING_HOST, RDS_SIGNING_PORT,
// RDS_REGION, RDS_CA_FILE and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for its demo credentials.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createTokenProvider, parseRdsEndpoint, rdsCaCertificates } from '@rds-iam/core';
import pg from 'pg';

const env = process.env;
const host = env.RDS_HOST ?? 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com';
const port = Number(env.RDS_PORT ?? 5432);

// --- snippet: core-pg ---
const tokens = createTokenProvider({
  host, // the region comes from an RDS hostname; set `region` for anything else
  port,
  user: env.RDS_USER ?? 'app',
  signingHost: env.RDS_SIGNING_HOST, // only when you dial a tunnel or alias of the endpoint
  signingPort: env.RDS_SIGNING_PORT ? Number(env.RDS_SIGNING_PORT) : undefined,
  region: env.RDS_REGION,
});

const pool = new pg.Pool({
  host,
  port,
  user: env.RDS_USER ?? 'app',
  database: env.RDS_DATABASE ?? 'app',
  // node-postgres calls this for every new physical connection: the token is always fresh.
  password: () => tokens.getToken(),
  ssl: {
    // The endpoint region's RDS CAs: Node parses `ca` for every new connection (the whole bundle,
    // 120 certificates, costs 20 ms of CPU each time; one region's, 3 ms).
    ca: env.RDS_CA_FILE
      ? readFileSync(env.RDS_CA_FILE, 'utf8')
      : [...rdsCaCertificates(parseRdsEndpoint(env.RDS_SIGNING_HOST ?? host)?.region)],
    // The certificate names the RDS endpoint: check that name when you dial a tunnel or alias (pg
    // checks `host` otherwise). TLS sends names only, never an IP address.
    servername: isIP(env.RDS_SIGNING_HOST ?? '') ? undefined : env.RDS_SIGNING_HOST,
  },
});
// --- end snippet ---

const { rows } = await pool.query('SELECT current_user AS "user", 1 + 1 AS two');
console.log(`logged in as ${rows[0].user} with an IAM token; 1 + 1 = ${rows[0].two}`);
await pool.end();
