// `node bench/run.mjs` for @rds-iam/postgres (after `pnpm build`; it also needs @rds-iam/emulator
// built). New-connection latency through the emulator in one run, interleaved: postgres.js with
// iamPostgresOptions (pass hook, cached token, rds-iam's verify-full TLS socket and login watch)
// against plain postgres.js given one pre-minted valid token and the same TLS settings. Each sample
// is a new postgres() instance: connect + SELECT 1 on a new physical connection, then end().
//
// Env: PGHOST, PGPORT (default 127.0.0.1:5432, user postgres with trust auth), BENCH_N (default 300).
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createTokenProvider } from '@rds-iam/core';
import postgres from 'postgres';
import { compareLatency } from '../../../scripts/bench/latency.mjs';
import { iamPostgresOptions } from '../dist/index.js';

// The emulator is a sibling workspace package, not a dependency: load its build by path.
const { DEMO_CREDENTIALS, startEmulator } = await import('../../emulator/dist/index.js').catch(
  (err) => {
    console.error(
      `the bench needs @rds-iam/emulator built: pnpm --filter @rds-iam/emulator build (${err.message})`,
    );
    process.exit(1);
  },
);

// postgres.js does not export its package.json.
const POSTGRES_VERSION = JSON.parse(
  readFileSync(new URL('../node_modules/postgres/package.json', import.meta.url), 'utf8'),
).version;

const N = Number(process.env.BENCH_N ?? 300);
const WARMUP = 20;
const UPSTREAM = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
};
const DATABASE = process.env.PGDATABASE ?? 'postgres';
const ENDPOINT = 'bench.cluster-c0ffee123456.us-east-1.rds.amazonaws.com';
const USER = 'app';

// Every login goes upstream as UPSTREAM.user (trust): the token is checked for USER at the emulator.
const emulator = await startEmulator({
  engine: 'postgres',
  upstream: { host: UPSTREAM.host, port: UPSTREAM.port, user: UPSTREAM.user },
  endpoint: { host: ENDPOINT, port: 5432 },
});
const credentials = {
  accessKeyId: DEMO_CREDENTIALS.accessKeyId,
  secretAccessKey: DEMO_CREDENTIALS.secretAccessKey,
};
// No array-type lookup after login (postgres.js's fetch_types): the sample is the login and SELECT 1.
const common = {
  host: emulator.host,
  port: emulator.port,
  user: USER,
  database: DATABASE,
  max: 1,
  fetch_types: false,
};

// One options object for every sample, as an app has: one token cache, one TLS setting.
const iamOptions = iamPostgresOptions({
  ...common,
  signingHost: ENDPOINT,
  signingPort: 5432,
  region: emulator.region,
  credentials,
  ssl: { ca: emulator.caPem },
});
const fixedToken = await createTokenProvider({
  host: emulator.host,
  port: emulator.port,
  user: USER,
  signingHost: ENDPOINT,
  signingPort: 5432,
  region: emulator.region,
  credentials,
}).getToken();
const plainOptions = {
  ...common,
  pass: fixedToken,
  ssl: { ca: emulator.caPem, servername: ENDPOINT, rejectUnauthorized: true },
};

/** One new physical connection: a new postgres() instance, SELECT 1, end. */
async function once(options) {
  const started = performance.now();
  const sql = postgres(options);
  await sql`SELECT 1`;
  const elapsed = performance.now() - started;
  await sql.end();
  return elapsed;
}

const title = `@rds-iam/postgres benchmark, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, postgres.js ${POSTGRES_VERSION}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); N=${N} each, interleaved`;
await compareLatency({
  title,
  subject: { label: 'postgres(iamPostgresOptions())', once: () => once(iamOptions) },
  baseline: { label: 'postgres(), fixed token', once: () => once(plainOptions) },
  n: N,
  warmup: WARMUP,
  ratioLabel: 'ratio (target <= 1.05)',
});
const logins = emulator.counters();
await emulator.stop();

console.log(`emulator: ${logins.accepted} logins accepted, ${logins.rejected} rejected`);
