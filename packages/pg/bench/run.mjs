// `pnpm bench` for @rds-iam/pg (after `pnpm build`; it also needs @rds-iam/emulator built).
// New-connection latency through the emulator in one run, interleaved: a pool from @rds-iam/pg
// (password hook, cached token, verify-full TLS) against a plain pg.Pool given one pre-minted valid
// token and the same TLS settings. Each sample is connect + SELECT 1 on a new physical connection.
//
// Env: PGHOST, PGPORT (default 127.0.0.1:5432, user postgres with trust auth), BENCH_N (default 300).
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { createTokenProvider, rdsCaCertificates } from '@rds-iam/core';
import pg from 'pg';
import { compareLatency } from '../../../scripts/bench/latency.mjs';
import { createPool } from '../dist/index.js';

// The emulator is a sibling workspace package, not a dependency: load its build by path.
const { DEMO_CREDENTIALS, startEmulator } = await import('../../emulator/dist/index.js').catch(
  (err) => {
    console.error(
      `the bench needs @rds-iam/emulator built: pnpm --filter @rds-iam/emulator build (${err.message})`,
    );
    process.exit(1);
  },
);

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
const common = { host: emulator.host, port: emulator.port, user: USER, database: DATABASE, max: 1 };

const iamOptions = {
  ...common,
  signingHost: ENDPOINT,
  signingPort: 5432,
  region: emulator.region,
  credentials,
};
const iamPool = createPool({ ...iamOptions, ssl: { ca: emulator.caPem } });
const fixedToken = await createTokenProvider({
  host: emulator.host,
  port: emulator.port,
  user: USER,
  signingHost: ENDPOINT,
  signingPort: 5432,
  region: emulator.region,
  credentials,
}).getToken();
const plainPool = new pg.Pool({
  ...common,
  password: fixedToken,
  ssl: { ca: emulator.caPem, servername: ENDPOINT, rejectUnauthorized: true },
});
plainPool.on('error', () => {});

/** One new physical connection: connect, SELECT 1, destroy (so the next one is new too). */
async function once(pool) {
  const started = performance.now();
  const client = await pool.connect();
  await client.query('SELECT 1');
  const elapsed = performance.now() - started;
  client.release(true);
  return elapsed;
}

const title = `@rds-iam/pg benchmark, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, pg ${createRequire(import.meta.url)('pg/package.json').version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); N=${N} each, interleaved`;
await compareLatency({
  title,
  subject: { label: '@rds-iam/pg createPool', once: () => once(iamPool) },
  baseline: { label: 'pg.Pool, fixed token', once: () => once(plainPool) },
  n: N,
  warmup: WARMUP,
  ratioLabel: 'ratio (target <= 1.05)',
});

// The same with RDS's CAs in the trust list, as against a real endpoint (the emulator's CA is added so
// that the handshake verifies here). @rds-iam/pg trusts the endpoint region's RDS CAs and builds the
// TLS context once per pool; the baseline does what AWS's guide says, the global bundle (every region)
// as `ca`, so Node parses it into a new context for every connection.
const regionCas = [...rdsCaCertificates(emulator.region), emulator.caPem];
const globalBundle = [...rdsCaCertificates(), emulator.caPem];
const iamRdsCaPool = createPool({ ...iamOptions, ssl: { ca: regionCas } });
const plainRdsCaPool = new pg.Pool({
  ...common,
  password: fixedToken,
  ssl: { ca: globalBundle, servername: ENDPOINT, rejectUnauthorized: true },
});
plainRdsCaPool.on('error', () => {});
await compareLatency({
  title: `with RDS CAs trusted: @rds-iam/pg's ${regionCas.length - 1} for ${emulator.region}, one context per pool; pg.Pool with the global bundle's ${globalBundle.length - 1}`,
  subject: { label: '@rds-iam/pg createPool', once: () => once(iamRdsCaPool) },
  baseline: { label: 'pg.Pool, fixed token, global bundle', once: () => once(plainRdsCaPool) },
  n: N,
  warmup: WARMUP,
  ratioLabel: 'ratio',
});
await Promise.all([iamPool.end(), plainPool.end(), iamRdsCaPool.end(), plainRdsCaPool.end()]);
const logins = emulator.counters();
await emulator.stop();

console.log(`emulator: ${logins.accepted} logins accepted, ${logins.rejected} rejected`);

// Cold start to the first query, fresh processes against plain pg with a signer token (its own file).
await import('./cold-start.mjs');
