// `pnpm bench` for @rds-iam/emulator (run `pnpm --filter @rds-iam/emulator build` first).
// Connection set-up time (new pg.Client: connect + SELECT 1 + end) through the emulator against
// straight to the local PostgreSQL, all measured in this one run, plus sustained logins per second
// and the cost of one token verification.
//
// The local PostgreSQL may run with ssl=off; "direct, TLS" then goes through a minimal
// TLS-terminating relay (pg's direct TLS negotiation -> node:tls -> plain TCP to PostgreSQL), which
// costs what a TLS handshake on the server itself would, plus one loopback hop.
import net from 'node:net';
import { cpus } from 'node:os';
import tls from 'node:tls';
import { Signer } from '@aws-sdk/rds-signer';
import pg from 'pg';
import {
  createCertificateAuthority,
  createVerifier,
  DEMO_CREDENTIALS,
  startEmulator,
} from '../dist/index.js';

const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  database: process.env.PGDATABASE ?? 'postgres',
};
const N = Number(process.env.BENCH_N ?? 200);
const WARMUP = 20;
const LOOPS = 8;
const SUSTAIN_MS = 3_000;

async function once(config) {
  const c = new pg.Client(config);
  await c.connect();
  await c.query('SELECT 1');
  await c.end();
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const pick = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return {
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    p50: pick(0.5),
    p99: pick(0.99),
    n: s.length,
  };
}

async function measure(config) {
  for (let i = 0; i < WARMUP; i++) await once(config);
  const samples = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await once(config);
    samples.push(performance.now() - t);
  }
  return stats(samples);
}

async function sustained(config) {
  let logins = 0;
  const deadline = performance.now() + SUSTAIN_MS;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: LOOPS }, async () => {
      while (performance.now() < deadline) {
        await once(config);
        logins++;
      }
    }),
  );
  return logins / ((performance.now() - start) / 1000);
}

async function tlsRelay() {
  const ca = await createCertificateAuthority();
  const sockets = new Set();
  const server = tls.createServer(
    { cert: ca.certPem, key: ca.keyPem, ALPNProtocols: ['postgresql'] },
    (client) => {
      const up = net.connect({ port: PG.port, host: PG.host, noDelay: true });
      client.setNoDelay(true);
      for (const s of [client, up]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          up.destroy();
        });
      }
      client.pipe(up).pipe(client);
    },
  );
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    caPem: ca.caPem,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
  };
}

// The emulator is as strict as RDS: it asks upstream whether the login user is a member of rds_iam
// (a superuser is a member of every role that exists). RDS has the role; a local server gets it here.
{
  const admin = new pg.Client(PG);
  await admin.connect();
  await admin
    .query('CREATE ROLE rds_iam NOLOGIN')
    .catch((err) => (['42710', '23505'].includes(err.code) ? undefined : Promise.reject(err)));
  await admin.end();
}

const emuTls = await startEmulator({
  engine: 'postgres',
  upstream: `postgres://${PG.host}:${PG.port}`,
});
const emuPlain = await startEmulator({
  engine: 'postgres',
  upstream: `postgres://${PG.host}:${PG.port}`,
  requireTls: false,
});
const relay = await tlsRelay();
const token = (emu) =>
  new Signer({
    hostname: emu.endpoint.host,
    port: emu.endpoint.port,
    username: PG.user,
    region: emu.region,
    credentials: DEMO_CREDENTIALS,
  }).getAuthToken();

const configs = {
  'direct, plaintext': { ...PG, ssl: false },
  'direct, TLS (relay)': {
    ...PG,
    port: relay.port,
    ssl: { ca: relay.caPem, servername: 'localhost' },
    sslnegotiation: 'direct',
  },
  'emulator, plaintext': {
    ...PG,
    host: emuPlain.host,
    port: emuPlain.port,
    password: await token(emuPlain),
    ssl: false,
  },
  'emulator, TLS': {
    ...PG,
    host: emuTls.host,
    port: emuTls.port,
    password: await token(emuTls),
    ssl: { ca: emuTls.caPem },
  },
};

const results = {};
try {
  for (const [name, config] of Object.entries(configs)) {
    results[name] = await measure(config);
  }
  const lps = {
    'direct, plaintext': await sustained(configs['direct, plaintext']),
    'direct, TLS (relay)': await sustained(configs['direct, TLS (relay)']),
    'emulator, TLS': await sustained(configs['emulator, TLS']),
  };

  // One token check, on its own.
  const t = await token(emuTls);
  const verify = createVerifier({
    region: emuTls.region,
    endpoint: emuTls.endpoint,
    credentials: [DEMO_CREDENTIALS],
    now: Date.now,
  });
  for (let i = 0; i < 2_000; i++) verify(t, PG.user);
  const vStart = process.hrtime.bigint();
  const V = 20_000;
  for (let i = 0; i < V; i++) verify(t, PG.user);
  const verifyUs = Number(process.hrtime.bigint() - vStart) / V / 1_000;

  const f = (ms) => ms.toFixed(2);
  const base = results['direct, TLS (relay)'];
  const plainBase = results['direct, plaintext'];
  console.log(
    `\n@rds-iam/emulator bench — ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Node ${process.version}, N=${N} sequential connections each\n`,
  );
  console.log(
    '| path | mean ms | p50 ms | p99 ms | mean vs direct TLS | mean vs direct plaintext |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const [name, s] of Object.entries(results)) {
    console.log(
      `| ${name} | ${f(s.mean)} | ${f(s.p50)} | ${f(s.p99)} | ${(s.mean / base.mean).toFixed(2)}x | ${(s.mean / plainBase.mean).toFixed(2)}x |`,
    );
  }
  console.log(
    `\nSustained logins per second, ${LOOPS} concurrent loops for ${SUSTAIN_MS / 1000} s:`,
  );
  for (const [name, v] of Object.entries(lps)) console.log(`- ${name}: ${v.toFixed(0)} /s`);
  console.log(
    `- ratio emulator TLS / direct TLS: ${(lps['emulator, TLS'] / lps['direct, TLS (relay)']).toFixed(2)}, emulator TLS / direct plaintext: ${(lps['emulator, TLS'] / lps['direct, plaintext']).toFixed(2)}`,
  );
  console.log(
    '(clients, emulator and relay share this one Node process; PostgreSQL runs beside it)',
  );
  console.log(`\nOne token verification (createVerifier): ${verifyUs.toFixed(1)} µs`);
  const c = emuTls.counters();
  console.log(`Emulator counters: accepted ${c.accepted}, rejected ${c.rejected}`);
  if (c.rejected > 0) process.exitCode = 1;
} finally {
  await Promise.all([emuTls.stop(), emuPlain.stop(), relay.close()]);
}
