// `pnpm bench` for @rds-iam/mysql2 (after `pnpm build`; it also needs @rds-iam/emulator built).
// New-connection latency through the emulator in one run, interleaved: a pool from @rds-iam/mysql2
// (async mysql_clear_password plugin, cached token, TLS checked before the token is sent) against a
// plain mysql2 pool given one pre-minted valid token (`enableCleartextPlugin`) and the same CA. Each
// sample is connect + SELECT 1 on a new physical connection.
//
// Env: MYSQL_HOST, MYSQL_PORT (default 127.0.0.1:3306, user root without a password), BENCH_N
// (default 300).
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { createTokenProvider } from '@rds-iam/core';
import mysql from 'mysql2/promise';
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
  host: process.env.MYSQL_HOST ?? '127.0.0.1',
  port: Number(process.env.MYSQL_PORT ?? 3306),
  user: process.env.MYSQL_USER ?? 'root',
};
const ENDPOINT = 'bench.cluster-c0ffee123456.us-east-1.rds.amazonaws.com';
const USER = 'app';

// Every login goes upstream as UPSTREAM.user (no password): the token is checked for USER.
const emulator = await startEmulator({
  engine: 'mysql',
  upstream: { host: UPSTREAM.host, port: UPSTREAM.port, user: UPSTREAM.user },
  endpoint: { host: ENDPOINT, port: 3306 },
});
const credentials = {
  accessKeyId: DEMO_CREDENTIALS.accessKeyId,
  secretAccessKey: DEMO_CREDENTIALS.secretAccessKey,
};
const common = { host: emulator.host, port: emulator.port, user: USER, connectionLimit: 1 };

const iamPool = createPool({
  ...common,
  signingHost: ENDPOINT,
  signingPort: 3306,
  region: emulator.region,
  credentials,
  ssl: { ca: emulator.caPem },
});
const fixedToken = await createTokenProvider({
  host: emulator.host,
  port: emulator.port,
  user: USER,
  signingHost: ENDPOINT,
  signingPort: 3306,
  region: emulator.region,
  credentials,
}).getToken();
const plainPool = mysql.createPool({
  ...common,
  password: fixedToken,
  enableCleartextPlugin: true,
  ssl: { ca: emulator.caPem },
});

/** One new physical connection: connect, SELECT 1, destroy (so the next one is new too). */
async function once(pool) {
  const started = performance.now();
  const connection = await pool.getConnection();
  await connection.query('SELECT 1');
  const elapsed = performance.now() - started;
  connection.destroy();
  return elapsed;
}

const title = `@rds-iam/mysql2 benchmark, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, mysql2 ${createRequire(import.meta.url)('mysql2/package.json').version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); N=${N} each, interleaved`;
await compareLatency({
  title,
  subject: { label: '@rds-iam/mysql2 createPool', once: () => once(iamPool) },
  baseline: { label: 'mysql2 pool, fixed token', once: () => once(plainPool) },
  n: N,
  warmup: WARMUP,
  ratioLabel: 'ratio (target <= 1.05)',
});
await Promise.all([iamPool.end(), plainPool.end()]);
const logins = emulator.counters();
await emulator.stop();

console.log(`emulator: ${logins.accepted} logins accepted, ${logins.rejected} rejected`);
