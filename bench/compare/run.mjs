// `pnpm bench:compare`: rds-iam against aws-advanced-nodejs-wrapper's IAM plugin and a fixed-token
// floor, through the local emulator, for PostgreSQL and MySQL/MariaDB. Run on demand, not in CI:
// it needs the real servers on 127.0.0.1:5432 (postgres, trust) and 127.0.0.1:3306 (root, no
// password) and takes a couple of minutes. It prints the tables and rewrites ../../BENCHMARKS.md.
//
// Env: BENCH_N (latency samples per variant, default 300), BENCH_WARMUP (default 20),
// BENCH_STORM (concurrent connections, default 100), BENCH_CHURN_STEPS (default 360, one every
// BENCH_CHURN_STEP_S = 10 simulated seconds), BENCH_CREDS_DELAY_MS (credentials endpoint delay,
// default 0), BENCH_ENGINES (default "postgres,mysql"), PGHOST/PGPORT/PGUSER/PGDATABASE,
// MYSQL_HOST/MYSQL_PORT/MYSQL_USER for the upstream servers.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Signer } from '@aws-sdk/rds-signer';
import { startEmulator } from '@rds-iam/emulator';
import { startCredentialsEndpoint } from './credentials-endpoint.mjs';
import { machine, versions } from './environment.mjs';
import { renderConsole, renderMarkdown, withHandWrittenSections } from './report.mjs';
import { redact, rpc } from './rpc.mjs';
import { summarize } from './stats.mjs';
import { freeUpstreamSlots } from './upstream.mjs';

const HEADER = `rds-iam comparison benchmark (on demand, not part of CI)
  rds-iam vs aws-advanced-nodejs-wrapper's IAM plugin vs a plain driver with one fixed token,
  all through the local RDS IAM emulator in front of the real PostgreSQL / MariaDB servers.
  Rewrites BENCHMARKS.md at the repository root. Token text is never printed.`;

const int = (name, fallback) => {
  const value = Number(process.env[name] ?? fallback);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const SETTINGS = {
  n: int('BENCH_N', 300),
  warmup: int('BENCH_WARMUP', 20),
  storm: int('BENCH_STORM', 100),
  churnSteps: int('BENCH_CHURN_STEPS', 360),
  churnStepS: int('BENCH_CHURN_STEP_S', 10),
  credsDelayMs: Number(process.env.BENCH_CREDS_DELAY_MS ?? 0) || 0,
  credentialsLifetimeH: 6,
};
const ENGINES = (process.env.BENCH_ENGINES ?? 'postgres,mysql')
  .split(',')
  .map((e) => e.trim())
  .filter((e) => e === 'postgres' || e === 'mysql');
const VARIANTS = ['rds-iam', 'wrapper', 'floor'];
const USER = 'app';
const REGION = 'us-east-1';
const UPSTREAMS = {
  postgres: {
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER ?? 'postgres',
    database: process.env.PGDATABASE ?? 'postgres',
    endpoint: { host: 'bench-pg.cluster-c0ffee123456.us-east-1.rds.amazonaws.com', port: 5432 },
  },
  mysql: {
    host: process.env.MYSQL_HOST ?? '127.0.0.1',
    port: Number(process.env.MYSQL_PORT ?? 3306),
    user: process.env.MYSQL_USER ?? 'root',
    database: '',
    endpoint: { host: 'bench-my.cluster-c0ffee123456.us-east-1.rds.amazonaws.com', port: 3306 },
  },
};
const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));
const NO_AWS_FILE = join(tmpdir(), 'rds-iam-bench-compare-no-such-aws-file');

console.log(`${HEADER}\n`);
const startedAt = new Date();
const creds = await startCredentialsEndpoint({
  lifetimeMs: SETTINGS.credentialsLifetimeH * 3_600_000,
  delayMs: SETTINGS.credsDelayMs,
});

/**
 * The child's environment: no AWS_* from this shell, the default credential chains pointed at the
 * loopback container endpoint (one counter per label), no shared config files, and the wrapper's
 * logger pinned to `warn` (at `debug` it logs token text).
 */
function childEnv(label, fakeClock) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && k !== 'LOG_LEVEL'),
  );
  return {
    ...env,
    AWS_REGION: REGION,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: creds.url(label),
    AWS_CONFIG_FILE: NO_AWS_FILE,
    AWS_SHARED_CREDENTIALS_FILE: NO_AWS_FILE,
    LOG_LEVEL: 'warn',
    ...(fakeClock ? { BENCH_FAKE_CLOCK: '1' } : {}),
  };
}

/** A valid token for the floor, minted here with the endpoint's credentials (not counted). */
function mintFixedToken(emulator) {
  return new Signer({
    hostname: emulator.endpoint.host,
    port: emulator.endpoint.port,
    username: USER,
    region: REGION,
    credentials: creds.credentials,
  }).getAuthToken();
}

async function spawnChild(label, { engine, name, emulator, max, fakeClock = false }) {
  const proc = fork(CHILD, [], {
    env: childEnv(label, fakeClock),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const channel = rpc(proc, {
    clock(offsetMs) {
      emulator.setClockOffset(offsetMs);
      return true;
    },
  });
  const exited = once(proc, 'exit');
  exited.then(([code]) => channel.rejectAll(new Error(`${label} exited (${code})`)));
  const target = {
    host: emulator.host,
    port: emulator.port,
    endpointHost: emulator.endpoint.host,
    endpointPort: emulator.endpoint.port,
    region: REGION,
    user: USER,
    database: UPSTREAMS[engine].database,
    caPem: emulator.caPem,
    ...(name === 'floor' ? { fixedToken: await mintFixedToken(emulator) } : {}),
  };
  await channel.call('init', { engine, name, target, max });
  return {
    call: channel.call,
    async end() {
      await channel.call('end').catch(() => {});
      await exited;
    },
  };
}

function emulatorSnapshot(emulator) {
  const c = emulator.counters();
  return {
    accepted: c.accepted,
    rejected: c.rejected,
    byReason: { ...c.rejectedByReason },
    distinctTokens: typeof c.distinctTokens === 'number' ? c.distinctTokens : undefined,
  };
}

function emulatorDelta(before, after) {
  const reasons = {};
  for (const [k, v] of Object.entries(after.byReason)) {
    const d = v - (before.byReason[k] ?? 0);
    if (d > 0) reasons[k] = d;
  }
  return {
    accepted: after.accepted - before.accepted,
    rejected: after.rejected - before.rejected,
    rejectedByReason: reasons,
    distinctTokens:
      after.distinctTokens === undefined ? undefined : after.distinctTokens - before.distinctTokens,
  };
}

async function drained(emulator) {
  for (let i = 0; i < 100 && emulator.counters().connectionsActive > 0; i++) await sleep(50);
}

function rotate(list, k) {
  return [...list.slice(k % list.length), ...list.slice(0, k % list.length)];
}

async function latency(engine, emulator) {
  const kids = {};
  for (const name of VARIANTS) {
    kids[name] = await spawnChild(`${engine}-latency-${name}`, { engine, name, emulator, max: 1 });
  }
  const samples = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  const tlsCounts = {};
  emulator.resetCounters();
  const before = emulatorSnapshot(emulator);
  try {
    for (let i = 0; i < SETTINGS.warmup; i++) {
      for (const name of rotate(VARIANTS, i)) await kids[name].call('sample');
    }
    for (let i = 0; i < SETTINGS.n; i++) {
      // Each variant takes each position in the round equally often.
      for (const name of rotate(VARIANTS, i)) samples[name].push(await kids[name].call('sample'));
    }
    for (const name of VARIANTS) tlsCounts[name] = await kids[name].call('tls');
  } finally {
    await Promise.all(VARIANTS.map((name) => kids[name].end()));
  }
  const logins = emulatorDelta(before, emulatorSnapshot(emulator));
  return {
    variants: Object.fromEntries(
      VARIANTS.map((v) => [v, { ...summarize(samples[v]), tls: tlsCounts[v] }]),
    ),
    logins,
  };
}

async function storm(engine, emulator, n, order) {
  const out = {};
  for (const name of order) {
    await drained(emulator);
    const label = `${engine}-storm-${name}`;
    const kid = await spawnChild(label, { engine, name, emulator, max: n });
    // Reset, not just diff: a token signed in the same second with the same key is the same token,
    // so one seen in an earlier scenario would otherwise not count as distinct here.
    emulator.resetCounters();
    const before = emulatorSnapshot(emulator);
    const credsBefore = creds.requests(label);
    try {
      const r = await kid.call('storm', { n });
      const logins = emulatorDelta(before, emulatorSnapshot(emulator));
      out[name] = { ...r, n, credentialRequests: creds.requests(label) - credsBefore, logins };
    } finally {
      await kid.end();
    }
  }
  return out;
}

async function churn(engine, emulator, order) {
  const out = {};
  for (const name of order) {
    await drained(emulator);
    const label = `${engine}-churn-${name}`;
    const kid = await spawnChild(label, { engine, name, emulator, max: 1, fakeClock: true });
    emulator.resetCounters();
    const before = emulatorSnapshot(emulator);
    try {
      const r = await kid.call('churn', {
        steps: SETTINGS.churnSteps,
        stepMs: SETTINGS.churnStepS * 1000,
      });
      const logins = emulatorDelta(before, emulatorSnapshot(emulator));
      out[name] = { ...r, credentialRequests: creds.requests(label), logins };
    } finally {
      await kid.end();
      emulator.setClockOffset(0);
    }
  }
  return out;
}

async function runEngine(engine) {
  const up = UPSTREAMS[engine];
  const slots = await freeUpstreamSlots(engine, up);
  if (!slots.reachable) {
    return { engine, skipped: `upstream ${up.host}:${up.port} not reachable (${slots.error})` };
  }
  // The storm goes upstream 1:1; keep clear of the server's connection limit (others may use it).
  const stormN = Math.max(1, Math.min(SETTINGS.storm, slots.free - 10));
  const emulator = await startEmulator({
    engine,
    upstream: { host: up.host, port: up.port, user: up.user },
    endpoint: up.endpoint,
    region: REGION,
    credentials: [creds.credentials],
  });
  const order = engine === 'postgres' ? VARIANTS : [...VARIANTS].reverse();
  try {
    console.log(`${engine}: new-connection latency (${SETTINGS.n} samples x 3, interleaved)...`);
    const lat = await latency(engine, emulator);
    console.log(`${engine}: cold storm of ${stormN} concurrent connections...`);
    const st = await storm(engine, emulator, stormN, order);
    console.log(
      `${engine}: churn, ${SETTINGS.churnSteps} connections ${SETTINGS.churnStepS} s apart (simulated)...`,
    );
    const ch = await churn(engine, emulator, order);
    return {
      engine,
      upstream: `${up.user}@${up.host}:${up.port}`,
      serverVersion: slots.version,
      endpoint: `${emulator.endpoint.host}:${emulator.endpoint.port}`,
      maxConnections: slots.max,
      stormN,
      stormCapped: stormN < SETTINGS.storm,
      distinctTokensServerSide: emulatorSnapshot(emulator).distinctTokens !== undefined,
      latency: lat,
      storm: st,
      churn: ch,
    };
  } finally {
    await emulator.stop();
  }
}

const started = performance.now();
const engines = [];
try {
  for (const engine of ENGINES) engines.push(await runEngine(engine));
} finally {
  await creds.stop();
}
const results = {
  date: startedAt.toISOString(),
  durationS: (performance.now() - started) / 1000,
  machine: machine(),
  versions: versions(),
  settings: SETTINGS,
  engines,
};

console.log(`\n${redact(renderConsole(results))}`);
const target = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url));
const previous = existsSync(target) ? readFileSync(target, 'utf8') : '';
writeFileSync(target, withHandWrittenSections(redact(renderMarkdown(results)), previous));
console.log(`wrote ${target} (${results.durationS.toFixed(0)} s)`);
