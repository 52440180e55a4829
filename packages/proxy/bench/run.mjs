// `pnpm bench` for @rds-iam/proxy (build first: `pnpm --filter @rds-iam/cli... build`).
//
// Throughput and connect latency through the local IAM proxy against direct TLS to the same
// endpoint and against PgBouncer, all in this one run, with ratios. The endpoint is the rds-iam
// emulator (a separate process) in front of the local PostgreSQL / MariaDB: it ends TLS, checks
// each token as RDS does, and relays. Every path pays that hop; what differs is what sits in front:
//
//   direct     pgbench --TLS verify-full, token as password--> emulator --> PostgreSQL
//   proxy      pgbench --plain--> rds-iam proxy (own process) --TLS, token--> emulator --> ...
//   pgbouncer  pgbench --plain--> PgBouncer (session mode) --TLS verify-full, token--> emulator
//
// PostgreSQL: pgbench -S (8 clients, 2 threads) transactions per second, rounds interleaved so that
// drift on a shared machine hits every path alike; pgbench -S -C (a new connection per
// transaction) latency p50 / p99 from pgbench's per-transaction log. MySQL: sysbench
// oltp_read_only (8 threads) direct and through the proxy. Then the proxy's idle cost (RSS, CPU over
// an idle interval) and 500 concurrent MySQL sessions through it (RSS, CPU to open them).
//
// Env: BENCH_SECONDS (per round, default 10), BENCH_ROUNDS (default 3), BENCH_PROFILE=1 writes a
// CPU profile of the proxy process (--cpu-prof) to the working directory printed at the end.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTokenProvider } from '@rds-iam/core';
import { DEMO_CREDENTIALS } from '@rds-iam/emulator';
import mysql from 'mysql2/promise';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(root, 'packages/cli/bin/rds-iam.js');
const EMULATOR = join(root, 'packages/emulator/bin/rds-iam-emulator.js');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PROFILE = process.env.BENCH_PROFILE === '1';
const work = mkdtempSync(join(tmpdir(), 'rds-iam-proxy-bench-'));
const children = new Set();
const AWS_ENV = {
  AWS_ACCESS_KEY_ID: DEMO_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: DEMO_CREDENTIALS.secretAccessKey,
  AWS_REGION: 'us-east-1',
};
const PG_DB = 'rds_iam_bench';
const PG_USER = 'rds_iam_bench';
const MY_DB = 'rds_iam_bench';
const MY_USER = 'rds_iam_bench';

/** Starts a long-running process and resolves with its first JSON line on stdout. */
function startJson(file, args, env = {}, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, file, ...args], {
    env: { ...process.env, ...AWS_ENV, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
    cwd: work,
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, ready: JSON.parse(line) });
    });
    child.once('exit', (code) => reject(new Error(`${file} exited ${code}`)));
  });
}

/** The emulator (the endpoint every path reaches) in its own process, its CA written to `caFile`. */
function emulator(engine, upstream, caFile) {
  return startJson(EMULATOR, [
    ...['--engine', engine, '--upstream', upstream, '--port', '0', '--ca-file', caFile],
    ...['--json', '--quiet'],
  ]);
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  children.delete(child);
}

const psqlAdmin = (sql, db = 'postgres') =>
  exec('psql', [
    '-h',
    '127.0.0.1',
    '-U',
    'postgres',
    '-d',
    db,
    '-v',
    'ON_ERROR_STOP=1',
    '-Atc',
    sql,
  ]);
const myAdmin = (sql) => exec('mariadb', ['-h', '127.0.0.1', '-u', 'root', '-e', sql]);

async function token(port, user) {
  const provider = createTokenProvider({
    host: '127.0.0.1',
    port,
    user,
    region: 'us-east-1',
    credentials: DEMO_CREDENTIALS,
  });
  try {
    return await provider.getToken();
  } finally {
    provider.close();
  }
}

/** Process CPU seconds (user + system) and RSS in MiB, from /proc. */
function usage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const tick = 100;
  const cpu = (Number(stat[11]) + Number(stat[12])) / tick;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  return { cpu, rss };
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
const median = (xs) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

// ---- set-up ----------------------------------------------------------------------------------

async function setUpPostgres() {
  await psqlAdmin(`DROP DATABASE IF EXISTS ${PG_DB}`);
  await psqlAdmin(`DROP ROLE IF EXISTS ${PG_USER}`);
  // A local server has no rds_iam role; RDS does. The seed creates it the same way.
  await psqlAdmin(
    `DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN CREATE ROLE rds_iam; END IF; END$$`,
  );
  await psqlAdmin(`CREATE ROLE ${PG_USER} LOGIN`);
  await psqlAdmin(`GRANT rds_iam TO ${PG_USER}`);
  await psqlAdmin(`CREATE DATABASE ${PG_DB} OWNER ${PG_USER}`);
  await exec('pgbench', ['-h', '127.0.0.1', '-U', PG_USER, '-i', '-s', '10', '-q', PG_DB]);
}

async function setUpMysql() {
  await myAdmin(`DROP DATABASE IF EXISTS ${MY_DB}; CREATE DATABASE ${MY_DB}`);
  await myAdmin(`DROP USER IF EXISTS '${MY_USER}'@'%'; CREATE USER '${MY_USER}'@'%'`);
  await myAdmin(`GRANT ALL ON ${MY_DB}.* TO '${MY_USER}'@'%'`);
  await exec('sysbench', [
    'oltp_read_only',
    '--mysql-host=127.0.0.1',
    '--mysql-user=root',
    `--mysql-db=${MY_DB}`,
    '--tables=1',
    '--table-size=100000',
    'prepare',
  ]);
}

async function pgbouncer(emulatorPort, caFile, pgToken) {
  const port = 16432 + Math.floor(Math.random() * 1000);
  const ini = join(work, 'pgbouncer.ini');
  writeFileSync(join(work, 'users.txt'), `"${PG_USER}" ""\n`, { mode: 0o600 });
  writeFileSync(
    ini,
    `[databases]
${PG_DB} = host=127.0.0.1 port=${emulatorPort} dbname=${PG_DB} user=${PG_USER} password=${pgToken}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(work, 'users.txt')}
pool_mode = session
max_client_conn = 200
default_pool_size = 20
server_tls_sslmode = verify-full
server_tls_ca_file = ${caFile}
`,
    { mode: 0o644 },
  );
  // PgBouncer refuses to run as root: as root, it drops to the postgres user (-u).
  chmodSync(work, 0o755);
  chmodSync(join(work, 'users.txt'), 0o644);
  const asRoot = process.getuid?.() === 0 ? ['-u', 'postgres'] : [];
  const log = [];
  const child = spawn('pgbouncer', [...asRoot, ini], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (b) => log.push(String(b)));
  children.add(child);
  for (let i = 0; i < 50; i++) {
    try {
      await exec('psql', [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        PG_USER,
        '-d',
        PG_DB,
        '-Atc',
        'SELECT 1',
      ]);
      return { child, port };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`pgbouncer did not start: ${log.join('')}`);
}

// ---- measurements ----------------------------------------------------------------------------

/** Runs pgbench against `target` (its port and environment) with `args`, to its end. */
function pgbench(target, args) {
  return exec(
    'pgbench',
    ['-h', '127.0.0.1', '-p', String(target.port), '-U', PG_USER, '-S', '-n', ...args, PG_DB],
    { env: { ...process.env, ...target.env }, maxBuffer: 1 << 24 },
  );
}

async function pgbenchTps(target) {
  const { stdout } = await pgbench(target, ['-c', '8', '-j', '2', '-T', String(SECONDS)]);
  return Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1]);
}

async function pgbenchConnect(target) {
  const dir = mkdtempSync(join(work, 'log-'));
  await pgbench(target, ['-C', '-c', '1', '-t', '400', '-l', '--log-prefix', join(dir, 'tx')]);
  const log = readdirSync(dir)
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('');
  // Each line: client_id transaction_no time script_no time_epoch time_us; `time` in µs.
  const ms = log
    .trim()
    .split('\n')
    .map((l) => Number(l.split(' ')[2]) / 1000)
    .slice(20) // warm-up
    .sort((a, b) => a - b);
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99) };
}

async function sysbenchTps(target) {
  const { stdout } = await exec(
    'sysbench',
    [
      'oltp_read_only',
      '--mysql-host=127.0.0.1',
      `--mysql-port=${target.port}`,
      `--mysql-user=${MY_USER}`,
      `--mysql-password=${target.password ?? ''}`,
      `--mysql-db=${MY_DB}`,
      // sysbench 1.0 reads cacert.pem, client-cert.pem and client-key.pem from its directory.
      ...(target.ssl ? ['--mysql-ssl=on'] : []),
      '--tables=1',
      '--table-size=100000',
      '--threads=8',
      `--time=${SECONDS}`,
      'run',
    ],
    { env: { ...process.env, ...target.env }, maxBuffer: 1 << 24, cwd: target.ssl ?? work },
  ).catch((err) => {
    throw new Error(`sysbench failed: ${String(err.stderr ?? err.message).slice(0, 500)}`);
  });
  return Number(/transactions:\s+\d+\s+\(([\d.]+) per sec/.exec(stdout)?.[1]);
}

/** A directory with what sysbench 1.0's --mysql-ssl=on reads: the CA, and a client pair it sends. */
async function sysbenchTls(caFile) {
  const dir = mkdtempSync(join(work, 'sysbench-'));
  writeFileSync(join(dir, 'cacert.pem'), readFileSync(caFile));
  await exec('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=sysbench',
    '-keyout',
    join(dir, 'client-key.pem'),
    '-out',
    join(dir, 'client-cert.pem'),
  ]);
  return dir;
}

// ---- run -------------------------------------------------------------------------------------

const has = (command) =>
  exec('sh', ['-c', `command -v ${command}`]).then(
    () => true,
    () => false,
  );

async function main() {
  const tools = {
    pgbench: await has('pgbench'),
    pgbouncer: await has('pgbouncer'),
    sysbench: await has('sysbench'),
  };
  if (!tools.pgbench || !tools.sysbench) {
    throw new Error(
      'the proxy bench needs pgbench and sysbench: apt-get install postgresql-client sysbench (and pgbouncer for its row)',
    );
  }
  console.log(
    `# @rds-iam/proxy bench: ${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}, ${SECONDS}s x ${ROUNDS} rounds`,
  );
  await setUpPostgres();
  const caPg = join(work, 'pg-ca.pem');
  const emuPg = await emulator('postgres', 'postgres://127.0.0.1:5432', caPg);
  const pgPort = emuPg.ready.port;
  const pgToken = await token(pgPort, PG_USER);
  const proxyArgs = (engine, port, db, user, ca) => [
    'proxy',
    '--engine',
    engine,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--user',
    user,
    '--database',
    db,
    '--listen',
    '127.0.0.1:0',
    '--ca-file',
    ca,
    '--region',
    'us-east-1',
    '--json',
  ];
  const profileDir = join(work, 'profile');
  const proxyPg = await startJson(
    CLI,
    proxyArgs('postgres', pgPort, PG_DB, PG_USER, caPg),
    {},
    PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  );
  const bouncer = tools.pgbouncer ? await pgbouncer(pgPort, caPg, pgToken) : undefined;
  if (!bouncer)
    console.log('\n(PgBouncer is not installed: apt-get install pgbouncer. Its row is left out.)');

  const paths = {
    direct: {
      port: pgPort,
      env: { PGPASSWORD: pgToken, PGSSLMODE: 'verify-full', PGSSLROOTCERT: caPg },
    },
    proxy: {
      port: Number(/:(\d+)$/.exec(proxyPg.ready.listen)[1]),
      env: { PGSSLMODE: 'disable' },
      pid: proxyPg.child.pid,
    },
    ...(bouncer
      ? { pgbouncer: { port: bouncer.port, env: { PGSSLMODE: 'disable' }, pid: bouncer.child.pid } }
      : {}),
  };
  const tps = Object.fromEntries(Object.keys(paths).map((name) => [name, []]));
  // Where the time goes: CPU seconds of the process in front (proxy, PgBouncer) and of the
  // emulator, per 1,000 transactions.
  const cpu = Object.fromEntries(
    Object.keys(paths).map((name) => [name, { front: 0, emulator: 0, tx: 0 }]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of Object.keys(paths)) {
      const path = paths[name];
      const front0 = path.pid ? usage(path.pid).cpu : 0;
      const emu0 = usage(emuPg.child.pid).cpu;
      const t = await pgbenchTps(path);
      tps[name].push(t);
      cpu[name].front += path.pid ? usage(path.pid).cpu - front0 : 0;
      cpu[name].emulator += usage(emuPg.child.pid).cpu - emu0;
      cpu[name].tx += t * SECONDS;
    }
  }
  const pgResult = Object.fromEntries(Object.entries(tps).map(([k, v]) => [k, median(v)]));
  console.log('\n## pgbench -S, 8 clients: transactions per second (median of rounds)');
  console.log('| path | tps | rounds | vs direct | vs PgBouncer |');
  console.log('|---|---|---|---|---|');
  for (const [name, v] of Object.entries(pgResult)) {
    console.log(
      `| ${name} | ${v.toFixed(0)} | ${tps[name].map((x) => x.toFixed(0)).join(', ')} | ${(v / pgResult.direct).toFixed(2)} | ${pgResult.pgbouncer ? (v / pgResult.pgbouncer).toFixed(2) : '-'} |`,
    );
  }

  console.log('\n## Where the time goes: CPU ms per 1,000 pgbench -S transactions');
  console.log('| path | process in front | emulator (the endpoint) |');
  console.log('|---|---|---|');
  for (const [name, c] of Object.entries(cpu)) {
    console.log(
      `| ${name} | ${name === 'direct' ? '-' : ((c.front / c.tx) * 1e6).toFixed(1)} | ${((c.emulator / c.tx) * 1e6).toFixed(1)} |`,
    );
  }

  console.log('\n## pgbench -S -C (a new connection per transaction), 1 client: latency ms');
  console.log('| path | p50 | p99 | added p50 vs direct | added p99 vs direct |');
  console.log('|---|---|---|---|---|');
  const connect = {};
  for (const name of Object.keys(paths)) connect[name] = await pgbenchConnect(paths[name]);
  for (const [name, c] of Object.entries(connect)) {
    console.log(
      `| ${name} | ${c.p50.toFixed(2)} | ${c.p99.toFixed(2)} | ${(c.p50 - connect.direct.p50).toFixed(2)} | ${(c.p99 - connect.direct.p99).toFixed(2)} |`,
    );
  }
  if (bouncer) await stop(bouncer.child);

  // Idle cost: the PostgreSQL proxy with no client for a few seconds.
  const idleBefore = usage(proxyPg.child.pid);
  await new Promise((r) => setTimeout(r, 5_000));
  const idleAfter = usage(proxyPg.child.pid);
  console.log(
    `\n## Idle proxy: RSS ${idleAfter.rss.toFixed(1)} MiB, CPU ${(((idleAfter.cpu - idleBefore.cpu) / 5) * 100).toFixed(2)}% of one core over 5 s`,
  );
  await stop(proxyPg.child);
  await stop(emuPg.child);

  // MySQL.
  await setUpMysql();
  const caMy = join(work, 'my-ca.pem');
  const emuMy = await emulator('mysql', 'mysql://127.0.0.1:3306', caMy);
  const myPort = emuMy.ready.port;
  const proxyMy = await startJson(CLI, proxyArgs('mysql', myPort, MY_DB, MY_USER, caMy));
  const myPaths = {
    // MariaDB Connector/C sends the token with its cleartext plugin, over TLS.
    direct: {
      port: myPort,
      password: await token(myPort, MY_USER),
      ssl: await sysbenchTls(caMy),
      env: { LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN: '1' },
    },
    proxy: { port: Number(/:(\d+)$/.exec(proxyMy.ready.listen)[1]) },
  };
  const myTps = { direct: [], proxy: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of Object.keys(myPaths)) myTps[name].push(await sysbenchTps(myPaths[name]));
  }
  const myResult = Object.fromEntries(Object.entries(myTps).map(([k, v]) => [k, median(v)]));
  console.log(
    '\n## sysbench oltp_read_only, 8 threads: transactions per second (median of rounds)',
  );
  console.log('| path | tps | rounds | vs direct |');
  console.log('|---|---|---|---|');
  for (const [name, v] of Object.entries(myResult)) {
    console.log(
      `| ${name} | ${v.toFixed(0)} | ${myTps[name].map((x) => x.toFixed(0)).join(', ')} | ${(v / myResult.direct).toFixed(2)} |`,
    );
  }

  // 500 concurrent sessions through the MySQL proxy.
  await myAdmin('SET GLOBAL max_connections = 700');
  const before = usage(proxyMy.child.pid);
  const started = performance.now();
  const sessions = [];
  for (let i = 0; i < 500; i += 50) {
    sessions.push(
      ...(await Promise.all(
        Array.from({ length: 50 }, () =>
          mysql.createConnection({
            host: '127.0.0.1',
            port: myPaths.proxy.port,
            user: MY_USER,
            database: MY_DB,
          }),
        ),
      )),
    );
  }
  const opened = performance.now() - started;
  await Promise.all(sessions.map((s) => s.query('SELECT 1')));
  const held = usage(proxyMy.child.pid);
  await new Promise((r) => setTimeout(r, 3_000));
  const idle500 = usage(proxyMy.child.pid);
  console.log(
    `\n## 500 concurrent MySQL sessions through the proxy: opened in ${(opened / 1000).toFixed(2)} s (50 at a time); proxy RSS ${before.rss.toFixed(1)} -> ${held.rss.toFixed(1)} MiB (${(((held.rss - before.rss) * 1024) / 500).toFixed(1)} KiB per session); CPU to open them ${(held.cpu - before.cpu).toFixed(2)} s; idle with 500 open: ${(((idle500.cpu - held.cpu) / 3) * 100).toFixed(2)}% of one core`,
  );
  await Promise.all(sessions.map((s) => s.end()));
  await myAdmin('SET GLOBAL max_connections = 151');
  await stop(proxyMy.child);
  await stop(emuMy.child);
  await psqlAdmin(`DROP DATABASE IF EXISTS ${PG_DB}`);
  await psqlAdmin(`DROP ROLE IF EXISTS ${PG_USER}`);
  await myAdmin(`DROP DATABASE IF EXISTS ${MY_DB}; DROP USER IF EXISTS '${MY_USER}'@'%'`);
  if (PROFILE) console.log(`\nCPU profile of the PostgreSQL proxy: ${profileDir}`);
}

try {
  await main();
} finally {
  for (const c of children) c.kill('SIGKILL');
  if (!PROFILE) rmSync(work, { recursive: true, force: true });
}
