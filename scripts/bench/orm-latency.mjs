// New-connection latency of an ORM integration against the same ORM and driver given one pre-minted
// valid token, for each engine, through the emulator (shared by packages/sequelize/bench and
// packages/mikro-orm/bench). Needs @rds-iam/core and @rds-iam/emulator built.
//
// Env: PGHOST / PGPORT (default 127.0.0.1:5432, user postgres with trust auth), BENCH_N (default
// 300). MySQL / MariaDB: 127.0.0.1:3306, user root without a password, database test.
import { cpus } from 'node:os';
import { createTokenProvider } from '../../packages/core/dist/index.js';
import { compareLatency } from './latency.mjs';

const N = Number(process.env.BENCH_N ?? 300);
const WARMUP = 20;
const ENDPOINT = 'bench.cluster-c0ffee123456.us-east-1.rds.amazonaws.com';
const USER = 'app';
const UPSTREAM = {
  postgres: {
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER ?? 'postgres',
    database: process.env.PGDATABASE ?? 'postgres',
  },
  // The local MySQL / MariaDB server of the test set-up.
  mysql: { host: '127.0.0.1', port: 3306, user: 'root', database: 'test' },
};

/**
 * For each `engine` of `cases`: starts an emulator (every login goes upstream as the admin user; the
 * token is checked for `app` at the emulator), opens `iam(target)` and `fixed(target)` (where
 * `target` has the endpoint, the user, the database, the emulator's CA and either the IAM options or
 * the fixed token), and compares their `once()`: one new physical connection, SELECT 1, closed.
 *
 * @param {string} name the integration, for the title
 * @param {string} versions what ran, for the title
 * @param {{ label: string, engine: 'postgres' | 'mysql',
 *   iam: (t: object) => Promise<{ once: () => Promise<number>, close: () => Promise<void> }>,
 *   fixed: (t: object) => Promise<{ once: () => Promise<number>, close: () => Promise<void> }> }[]} cases
 */
export async function benchOrm(name, versions, cases) {
  const { DEMO_CREDENTIALS, startEmulator } = await import(
    '../../packages/emulator/dist/index.js'
  ).catch((err) => {
    console.error(`the bench needs @rds-iam/emulator built (${err.message})`);
    process.exit(1);
  });
  const credentials = {
    accessKeyId: DEMO_CREDENTIALS.accessKeyId,
    secretAccessKey: DEMO_CREDENTIALS.secretAccessKey,
  };
  for (const { label, engine, iam, fixed } of cases) {
    const upstream = UPSTREAM[engine];
    const endpointPort = engine === 'postgres' ? 5432 : 3306;
    const emulator = await startEmulator({
      engine,
      upstream: { host: upstream.host, port: upstream.port, user: upstream.user },
      endpoint: { host: ENDPOINT, port: endpointPort },
    });
    const base = {
      host: emulator.host,
      port: emulator.port,
      user: USER,
      database: upstream.database,
      ca: emulator.caPem,
      servername: ENDPOINT,
    };
    const signing = {
      signingHost: ENDPOINT,
      signingPort: endpointPort,
      region: emulator.region,
      credentials,
    };
    const token = await createTokenProvider({ ...base, ...signing }).getToken();
    const subject = await iam({ ...base, iam: { ...signing, ssl: { ca: emulator.caPem } } });
    const baseline = await fixed({ ...base, token });
    await compareLatency({
      title: `${name} (${label}) benchmark, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${versions}, ${cpus().length} cores; N=${N} each, interleaved`,
      subject: { label: `${name}, IAM`, once: subject.once },
      baseline: { label: `same ORM and driver, fixed token`, once: baseline.once },
      n: N,
      warmup: WARMUP,
      ratioLabel: 'ratio (target <= 1.05)',
    });
    await Promise.all([subject.close(), baseline.close()]);
    const logins = emulator.counters();
    await emulator.stop();
    console.log(`emulator: ${logins.accepted} logins accepted, ${logins.rejected} rejected\n`);
  }
}

/** Times `open` (resolves to a new physical connection) + `query` on it, then `close`s it. */
export async function timeNewConnection(open, query, close) {
  const started = performance.now();
  const connection = await open();
  await query(connection);
  const elapsed = performance.now() - started;
  await close(connection);
  return elapsed;
}
