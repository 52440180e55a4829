// Soak (issue 8), scaled down: every integration x engine serves a steady query load while the test
// clock walks through 24 simulated hours in 5-minute steps, with hourly credential rotation, a
// 2-minute credential-endpoint outage, one injected login rejection per hour, server-side session
// kills every 30 minutes and one emulator restart. Nothing waits for real time to pass except the
// few milliseconds a killed connection needs to be noticed; no assertion reads the wall clock.
import { randomBytes } from 'node:crypto';
import {
  type AwsCredentialsProvider,
  createTokenProvider,
  type TokenEvent,
  type TokenProvider,
} from '@rds-iam/core';
import type { EmulatorCounters, EmulatorCredentials } from '@rds-iam/emulator';
import { iamConnection } from '@rds-iam/knex';
import { createPool as createMysql2Pool } from '@rds-iam/mysql2';
import { createPool as createPgPool } from '@rds-iam/pg';
import { iamDataSourceOptions } from '@rds-iam/typeorm';
import knexFactory from 'knex';
import { DataSource } from 'typeorm';
import { afterAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  type Engine,
  hasDatabase,
  type IamEndpoint,
  startIamEndpoint,
  testClock,
} from '../harness/index.js';
import { endSessionsOf, MINUTE, waitFor } from './driver-support.js';

const HOUR = 60 * MINUTE;
const STEP = 5 * MINUTE;
const STEPS = (24 * HOUR) / STEP; // 288
const QUERIES_PER_STEP = 3;
const POOL_SIZE = 3;
/**
 * Every 6th step (30 simulated minutes) all of the user's sessions are killed server-side; also at
 * the outage, so that a mint needs credentials then.
 */
const KILL_EVERY = 6;
/** Keys live until their hour's end plus this. */
const KEY_GRACE = 3 * MINUTE;
/** The credential endpoint is down for [OUTAGE_AT, OUTAGE_AT + 2 min): hour 7, minute 50. */
const OUTAGE_AT = 7 * HOUR + 50 * MINUTE;
/** The emulator is stopped and started again on the same port at hour 12. */
const RESTART_AT = 12 * HOUR;

/** What an integration's pool/client is given: where to dial, what to sign for, TLS, a provider. */
interface SoakOptions {
  host: string;
  port: number;
  user: string;
  database: string | undefined;
  region: string;
  signingHost: string;
  signingPort: number;
  tokenProvider: TokenProvider;
  ssl: { ca: string; servername?: string };
}

interface SoakTarget {
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

interface Integration {
  readonly name: string;
  readonly engine: Engine;
  /** Whether the integration retries a login the server rejected (else the query fails once). */
  readonly retriesRejectedLogin: boolean;
  open(options: SoakOptions): SoakTarget;
}

const INTEGRATIONS: readonly Integration[] = [
  {
    name: 'pg createPool',
    engine: 'postgres',
    retriesRejectedLogin: true,
    open(o) {
      const pool = createPgPool({ ...o, max: POOL_SIZE, connectionTimeoutMillis: 10_000 });
      pool.on('error', () => undefined);
      return { query: (sql) => pool.query(sql), end: () => pool.end() };
    },
  },
  {
    name: 'mysql2 createPool',
    engine: 'mysql',
    retriesRejectedLogin: true,
    open(o) {
      const pool = createMysql2Pool({ ...o, connectionLimit: POOL_SIZE, connectTimeout: 10_000 });
      return { query: (sql) => pool.query(sql), end: () => pool.end() };
    },
  },
  ...(['pg', 'mysql2'] as const).map(
    (client): Integration => ({
      name: `knex ${client}`,
      engine: client === 'pg' ? 'postgres' : 'mysql',
      retriesRejectedLogin: false,
      open(o) {
        const db = knexFactory({
          client,
          connection: client === 'pg' ? iamConnection(o) : iamConnection({ ...o, client }),
          pool: { min: 0, max: POOL_SIZE },
          acquireConnectionTimeout: 10_000,
        });
        return { query: (sql) => db.raw(sql), end: () => db.destroy() };
      },
    }),
  ),
  ...(['postgres', 'mysql'] as const).map(
    (type): Integration => ({
      name: `TypeORM ${type}`,
      engine: type,
      retriesRejectedLogin: false,
      open({ user, ...o }) {
        const base = { ...o, username: user, poolSize: POOL_SIZE, entities: [] };
        const ds = new DataSource(
          type === 'postgres'
            ? iamDataSourceOptions({ ...base, type })
            : iamDataSourceOptions({ ...base, type }),
        );
        const ready = ds.initialize();
        return {
          query: async (sql) => (await ready).query(sql),
          end: async () => {
            await ready.catch(() => undefined);
            if (ds.isInitialized) await ds.destroy();
          },
        };
      },
    }),
  ),
];

interface SoakResult {
  integration: string;
  queries: number;
  failed: number;
  logins: number;
  rejectedInjected: number;
  mints: number;
  providerCalls: number;
  providerFailures: number;
  keys: number;
  restarted: boolean;
  slowestHandOutMs: number;
}

const results: SoakResult[] = [];

function addCounters(total: EmulatorCounters[], c: EmulatorCounters): void {
  total.push({ ...c, rejectedByReason: { ...c.rejectedByReason } });
}

async function soak(integration: Integration, index: number): Promise<SoakResult> {
  const { engine } = integration;
  const clock = testClock();
  let iam: IamEndpoint = await startIamEndpoint(engine, { clock });
  const app = await createIamUser(engine);
  const start = clock.now();
  const port = iam.port;
  const endpoint = iam.endpoint;

  // Hourly rotating keys, as an instance role hands them out, each known to the emulator with its
  // expiry. The endpoint is down for two simulated minutes once.
  const keys = new Map<number, EmulatorCredentials>();
  let providerCalls = 0;
  let providerFailures = 0;
  const credentials: AwsCredentialsProvider = async () => {
    providerCalls += 1;
    const elapsed = clock.now() - start;
    if (elapsed >= OUTAGE_AT && elapsed < OUTAGE_AT + 2 * MINUTE) {
      providerFailures += 1;
      throw new Error('credential endpoint down (injected)');
    }
    const hour = Math.floor(elapsed / HOUR);
    let k = keys.get(hour);
    if (!k) {
      k = {
        accessKeyId: `ASIASOAK${index}${String(hour).padStart(4, '0')}`,
        secretAccessKey: randomBytes(30).toString('base64'),
        sessionToken: randomBytes(48).toString('base64'),
        expiration: new Date(start + (hour + 1) * HOUR + KEY_GRACE),
      };
      keys.set(hour, k);
      iam.emulator.addCredentials(k);
    }
    return k;
  };

  const events: TokenEvent[] = [];
  const inner = createTokenProvider({
    host: iam.host,
    port,
    user: app.user,
    region: iam.region,
    signingHost: iam.endpoint.host,
    signingPort: iam.endpoint.port,
    credentials,
    now: clock.now,
    onEvent: (e) => events.push(e),
  });
  // Real-time latency of every hand-out, reported only (never asserted: that would be wall clock).
  let slowest = 0;
  const tokenProvider: TokenProvider = {
    async getToken() {
      const t = performance.now();
      try {
        return await inner.getToken();
      } finally {
        slowest = Math.max(slowest, performance.now() - t);
      }
    },
    invalidate: (token) => inner.invalidate(token),
    peek: () => inner.peek(),
    close: () => inner.close(),
  };

  const open = (): SoakTarget =>
    integration.open({
      host: iam.host,
      port,
      user: app.user,
      database: app.database,
      region: iam.region,
      signingHost: iam.endpoint.host,
      signingPort: iam.endpoint.port,
      tokenProvider,
      ssl: { ...iam.tls },
    });
  let target = open();

  const counters: EmulatorCounters[] = [];
  let queries = 0;
  const failures: string[] = [];
  let restarted = false;
  try {
    for (let step = 0; step < STEPS; step += 1) {
      const elapsed = step * STEP;
      if (elapsed === RESTART_AT) {
        addCounters(counters, iam.emulator.counters());
        await iam.stop();
        iam = await startIamEndpoint(engine, {
          clock,
          endpointPort: port,
          emulator: { port, credentials: [...keys.values()] },
        });
        expect(iam.port).toBe(port);
        expect(iam.endpoint).toEqual(endpoint);
        // Same port and endpoint name, but the emulator has no CA option: a new start brings a new
        // CA, so the client's TLS trust has to change, and that takes a new pool (drivers copy
        // their `ssl` settings). The token provider (and its cache) is kept.
        await target.end().catch(() => undefined);
        target = open();
        restarted = true;
      } else if ((step % KILL_EVERY === 0 && step > 0) || elapsed === OUTAGE_AT) {
        await endSessionsOf(engine, app.user);
        const emulator = iam.emulator;
        await waitFor(
          () => emulator.counters().connectionsActive === 0,
          'killed sessions to close',
        );
        // Let the client side see the close before the next query picks a connection.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // One rejected login per hour, on the connections opened right after the :30 kill.
      if (elapsed % HOUR === 30 * MINUTE) iam.emulator.rejectNextLogins(1);
      const batch = Array.from({ length: QUERIES_PER_STEP }, (_, i) =>
        target.query(`SELECT ${step * QUERIES_PER_STEP + i} AS n`).then(
          () => undefined,
          (err: unknown) => {
            failures.push(`step ${step}: ${err instanceof Error ? err.message : String(err)}`);
          },
        ),
      );
      queries += batch.length;
      await Promise.all(batch);
      clock.advance(STEP);
    }
  } finally {
    addCounters(counters, iam.emulator.counters());
    await target.end().catch(() => undefined);
    tokenProvider.close();
    await iam.stop();
    await app.drop();
  }

  const sum = (f: (c: EmulatorCounters) => number): number =>
    counters.reduce((n, c) => n + f(c), 0);
  const result: SoakResult = {
    integration: `${integration.name} (${engine})`,
    queries,
    failed: failures.length,
    logins: sum((c) => c.accepted + c.rejected),
    rejectedInjected: sum((c) => c.rejectedByReason.injected ?? 0),
    mints: events.filter((e) => e.type === 'minted').length,
    providerCalls,
    providerFailures,
    keys: keys.size,
    restarted,
    slowestHandOutMs: Math.round(slowest * 10) / 10,
  };
  if (failures.length > 0) {
    console.log(`${result.integration}: ${failures.length} failed, first:`, failures.slice(0, 2));
  }
  return result;
}

describe('soak: 24 simulated hours per integration x engine', () => {
  afterAll(() => {
    if (results.length > 0) console.table(results);
  });

  INTEGRATIONS.forEach((integration, index) => {
    test.runIf(hasDatabase(integration.engine))(
      `${integration.name} (${integration.engine})`,
      async () => {
        const r = await soak(integration, index);
        results.push(r);

        expect(r.queries).toBe(STEPS * QUERIES_PER_STEP);
        expect(r.restarted).toBe(true);
        // 24 hourly keys, each fetched once when its hour's first mint needed it.
        expect(r.keys).toBe(24);
        // The outage was hit (a mint at 7:50 needed keys past 8:03) and absorbed: the cached keys
        // still worked, so nobody failed because of it.
        expect(r.providerFailures).toBeGreaterThanOrEqual(1);
        // One injected rejection per hour, each on a login (the :30 kill forces new ones).
        expect(r.rejectedInjected).toBe(24);
        if (integration.retriesRejectedLogin) {
          // pg / mysql2 pools retry a rejected login once with a fresh token: nothing fails.
          expect(r.failed).toBe(0);
        } else {
          // knex and TypeORM pools do not retry a failed connect: the query whose new connection
          // met the injected rejection fails. At most one failure per injected rejection, and the
          // token is invalidated, so the next connection logs in fine.
          expect(r.failed).toBeLessThanOrEqual(r.rejectedInjected);
        }
        // Mints stay bounded: at most one per login plus a few per hour (rotation, refresh).
        expect(r.mints).toBeGreaterThanOrEqual(24);
        expect(r.mints).toBeLessThanOrEqual(r.logins + 24 * 4);
        // Credentials are asked for only when a mint needs them.
        expect(r.providerCalls).toBeLessThanOrEqual(r.mints + r.providerFailures);
      },
      30_000,
    );
  });
});
