// Cold start to the first query, as on Lambda: a fresh process with credentials in the environment
// imports the library, opens a pool, runs SELECT 1 through the emulator (verify-full TLS) and exits.
// @rds-iam/pg createPool against plain pg with a token from @aws-sdk/rds-signer, alternating fresh
// processes in one run; medians and their ratio (target <= 1.0). The emulator runs in this process.
// Runs against whatever ../dist holds: the child imports the package by name.
// Env: PGHOST, PGPORT (default 127.0.0.1:5432, user postgres with trust auth), BENCH_COLD_N (31).
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { compareLatency } from '../../../scripts/bench/latency.mjs';
import { processMs } from '../../core/bench/child.mjs';

const { DEMO_CREDENTIALS, startEmulator } = await import('../../emulator/dist/index.js');

const N = Number(process.env.BENCH_COLD_N ?? 31);
const ENDPOINT = 'bench.cluster-c0ffee123456.us-east-1.rds.amazonaws.com';
const emulator = await startEmulator({
  engine: 'postgres',
  upstream: {
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER ?? 'postgres',
  },
  endpoint: { host: ENDPOINT, port: 5432 },
});
// The signer is a devDependency of core, not of this package: the child loads it by path.
const signerUrl = pathToFileURL(
  createRequire(new URL('../../core/package.json', import.meta.url)).resolve('@aws-sdk/rds-signer'),
).href;
const cwd = new URL('..', import.meta.url);
const env = {
  AWS_ACCESS_KEY_ID: DEMO_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: DEMO_CREDENTIALS.secretAccessKey,
  AWS_REGION: emulator.region,
  AWS_CONFIG_FILE: '/nonexistent/rds-iam-bench/config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/rds-iam-bench/credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
  BENCH_CA: emulator.caPem,
};
const target = `host: '${emulator.host}', port: ${emulator.port}, user: 'app', database: '${process.env.PGDATABASE ?? 'postgres'}'`;

const iam = `import { createPool } from '@rds-iam/pg';
const pool = createPool({ ${target}, signingHost: '${ENDPOINT}', signingPort: 5432, ssl: { ca: process.env.BENCH_CA } });
await pool.query('SELECT 1');
await pool.end();`;
const plain = `import pg from 'pg';
import { Signer } from '${signerUrl}';
const password = await new Signer({ hostname: '${ENDPOINT}', port: 5432, username: 'app' }).getAuthToken();
const pool = new pg.Pool({ ${target}, password, ssl: { ca: process.env.BENCH_CA, servername: '${ENDPOINT}' } });
await pool.query('SELECT 1');
await pool.end();`;

await compareLatency({
  title: `@rds-iam/pg cold start to first query through the emulator, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); N=${N} fresh processes each, alternating; environment credentials`,
  subject: { label: '@rds-iam/pg createPool', once: () => processMs(iam, { cwd, env }) },
  baseline: { label: 'pg.Pool + rds-signer token', once: () => processMs(plain, { cwd, env }) },
  n: N,
  warmup: 3,
  ratioLabel: 'ratio (target <= 1.0)',
  column: 'process start to exit',
});
const logins = emulator.counters();
await emulator.stop();
console.log(`emulator: ${logins.accepted} logins accepted, ${logins.rejected} rejected`);
