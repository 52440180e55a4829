// Soak (issue 8): every integration x engine serves a steady query load while the test clock walks
// through 24 simulated hours in 5-minute steps, with connection churn (every session killed
// server-side each 30 minutes), credentials rotating hourly, a 2-minute credential-endpoint outage,
// a 2-minute credential-endpoint hang (requests that never settle, cut by credentialsTimeoutMs),
// one login rejected per simulated hour and one emulator restart (same port, same CA, so the pools are
// kept). Nothing waits for real time to pass: after a kill or the restart the test waits for each
// client to have noticed its dead connections (a condition, not a delay), and no assertion reads the
// wall clock.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { MikroORM } from '@mikro-orm/core';
import { MariaDbDriver } from '@mikro-orm/mariadb';
import { MySqlDriver } from '@mikro-orm/mysql';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import {
  type AwsCredentialsProvider,
  createTokenProvider,
  type TokenEvent,
  type TokenProvider,
} from '@rds-iam/core';
import type { EmulatorCounters, EmulatorCredentials } from '@rds-iam/emulator';
import { iamConnection } from '@rds-iam/knex';
import { iamMikroOrmOptions } from '@rds-iam/mikro-orm';
import { createCallbackPool, createPool as createMysql2Pool } from '@rds-iam/mysql2';
import { createPool as createPgPool } from '@rds-iam/pg';
import { iamPostgresOptions } from '@rds-iam/postgres';
import { iamPrismaMariaDb } from '@rds-iam/prisma/mariadb';
import { iamPrismaPg } from '@rds-iam/prisma/pg';
import { iamSequelizeOptions } from '@rds-iam/sequelize';
import { iamDataSourceOptions } from '@rds-iam/typeorm';
import { sql as drizzleSql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import knexFactory from 'knex';
import { Kysely, sql as kyselySql, MysqlDialect } from 'kysely';
import postgres from 'postgres';
import { QueryTypes, Sequelize } from 'sequelize';
import { DataSource } from 'typeorm';
import { afterAll, describe, expect, test } from 'vitest';
import { endSessionsOf, MINUTE, waitFor, waitForQuietEmulator } from '../e2e/driver-support.js';
import {
  connectionLossLog,
  createIamUser,
  type Engine,
  hasDatabase,
  type IamEndpoint,
  startIamEndpoint,
  testClock,
} from '../harness/index.js';
import { MIKRO_ORM_MAJOR, MIKRO_ORM_ONLY } from '../harness/mikro-orm.js';

const HOUR = 60 * MINUTE;
const STEP = 5 * MINUTE;
const STEPS = (24 * HOUR) / STEP; // 288
const QUERIES_PER_STEP = 3;
const POOL_SIZE = 3;
/**
 * Every 6th step (30 simulated minutes) all of the user's sessions are killed server-side; also at
 * the outage.
 */
const KILL_EVERY = 6;
/** Keys live until their hour's end plus this. */
const KEY_GRACE = 3 * MINUTE;
/** The credential endpoint is down for [OUTAGE_AT, OUTAGE_AT + 2 min): hour 7, minute 50. */
const OUTAGE_AT = 7 * HOUR + 50 * MINUTE;
/**
 * The credential endpoint hangs (accepts, never answers) for [HANG_AT, HANG_AT + 2 min): hour 15,
 * minute 50. Each request then waits HANG_TIMEOUT_MS of real time, the bound under test.
 */
const HANG_AT = 15 * HOUR + 50 * MINUTE;
const HANG_TIMEOUT_MS = 250;
/** The emulator is stopped and started again on the same port, with the same CA, at hour 12. */
const RESTART_AT = 12 * HOUR;
/** Real-time budget of one integration's 24 hours (about 5 s alone on 2 cores). */
const CASE_TIMEOUT_MS = 180_000;

/** What an integration's pool or client is given: where to dial, what to sign for, TLS, a provider. */
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
  /**
   * Connections the client still counts as usable. After the server closed them all, this drops to
   * 0 once the client has seen every close, so the next query cannot pick a dead one.
   */
  liveConnections(): number;
  end(): Promise<void>;
  /** What the library logged that is not a connection the kills ended (none is expected). */
  unexpectedLog?(): string[];
}

interface Integration {
  readonly name: string;
  readonly engine: Engine;
  /**
   * The pool keeps POOL_SIZE connections open by itself and reopens them in the background (the
   * mariadb connector's default `minimumIdle`), rather than on demand.
   */
  readonly replenishes?: boolean;
  open(options: SoakOptions): SoakTarget;
}

// Pool internals read by liveConnections(): test-only, each named after the library's own field.
interface TarnPool {
  free: { resource: { __knex__disposed?: unknown } }[];
  numUsed(): number;
}
interface Mysql2CorePool {
  _allConnections: { length: number };
}
interface PgPoolCounts {
  totalCount: number;
}
interface SequelizeManager {
  pool: {
    _inUseObjects: unknown[];
    _availableObjects: { resource: unknown }[];
  };
  _validate(connection: unknown): boolean;
}

/** Connections of a knex pool (knex itself, MikroORM 6): knex drops a closed one at its next acquire. */
function knexLive(pool: TarnPool): number {
  return pool.numUsed() + pool.free.filter((f) => !f.resource.__knex__disposed).length;
}

const INTEGRATIONS: readonly Integration[] = [
  {
    name: 'pg createPool',
    engine: 'postgres',
    open(o) {
      const pool = createPgPool({ ...o, max: POOL_SIZE, connectionTimeoutMillis: 10_000 });
      return {
        query: (sql) => pool.query(sql),
        liveConnections: () => pool.totalCount,
        end: () => pool.end(),
      };
    },
  },
  {
    name: 'mysql2 createPool',
    engine: 'mysql',
    open(o) {
      const pool = createMysql2Pool({ ...o, connectionLimit: POOL_SIZE, connectTimeout: 10_000 });
      const core = (pool as unknown as { pool: Mysql2CorePool }).pool;
      return {
        query: (sql) => pool.query(sql),
        liveConnections: () => core._allConnections.length,
        end: () => pool.end(),
      };
    },
  },
  {
    name: 'postgres.js iamPostgresOptions',
    engine: 'postgres',
    open(o) {
      const config = iamPostgresOptions({ ...o, max: POOL_SIZE, connect_timeout: 10 });
      // postgres.js does not count its connections: count the sockets rds-iam hands it.
      let live = 0;
      const counted: typeof config = {
        ...config,
        socket: async (options) => {
          const socket = (await config.socket(options)) as Socket;
          live += 1;
          socket.once('close', () => {
            live -= 1;
          });
          return socket;
        },
      };
      const sql = postgres(counted);
      return {
        query: (text) => sql.unsafe(text),
        liveConnections: () => live,
        end: () => sql.end({ timeout: 5 }),
      };
    },
  },
  {
    // Drizzle and Kysely run on the @rds-iam/pg and @rds-iam/mysql2 pools: one of each, Kysely on
    // MySQL through the callback-pool adapter of examples/kysely-mysql.
    name: 'Drizzle on pg createPool',
    engine: 'postgres',
    open(o) {
      const pool = createPgPool({ ...o, max: POOL_SIZE, connectionTimeoutMillis: 10_000 });
      const db = drizzle({ client: pool });
      return {
        query: (text) => db.execute(drizzleSql.raw(text)),
        liveConnections: () => pool.totalCount,
        end: () => pool.end(),
      };
    },
  },
  {
    name: 'Kysely on mysql2 createCallbackPool',
    engine: 'mysql',
    open(o) {
      const pool = createCallbackPool({ ...o, connectionLimit: POOL_SIZE, connectTimeout: 10_000 });
      const core = pool as unknown as Mysql2CorePool;
      const db = new Kysely({ dialect: new MysqlDialect({ pool }) });
      return {
        query: (text) => kyselySql.raw(text).execute(db),
        liveConnections: () => core._allConnections.length,
        end: () => db.destroy(),
      };
    },
  },
  ...(['pg', 'mysql2'] as const).map(
    (client): Integration => ({
      name: `knex ${client}`,
      engine: client === 'pg' ? 'postgres' : 'mysql',
      open(o) {
        // knex warns "Connection Error: ..." for each connection a kill ended (about 150).
        const knexLog = connectionLossLog();
        const db = knexFactory({
          client,
          connection: client === 'pg' ? iamConnection(o) : iamConnection({ ...o, client }),
          pool: { min: 0, max: POOL_SIZE },
          acquireConnectionTimeout: 10_000,
          log: knexLog.log,
        });
        const tarn = (): TarnPool => (db.client as { pool: TarnPool }).pool;
        return {
          query: (sql) => db.raw(sql),
          // knex marks a connection whose socket closed and drops it at the next acquire.
          liveConnections: () => knexLive(tarn()),
          end: () => db.destroy(),
          unexpectedLog: knexLog.unexpected,
        };
      },
    }),
  ),
  ...(['postgres', 'mysql'] as const).map(
    (type): Integration => ({
      name: `TypeORM ${type}`,
      engine: type,
      open({ user, ...o }) {
        const base = { ...o, username: user, poolSize: POOL_SIZE, entities: [] };
        const ds = new DataSource(
          type === 'postgres'
            ? iamDataSourceOptions({ ...base, type })
            : iamDataSourceOptions({ ...base, type }),
        );
        const ready = ds.initialize();
        const driver = ds.driver as unknown as { master?: PgPoolCounts; pool?: Mysql2CorePool };
        return {
          query: async (sql) => (await ready).query(sql),
          liveConnections: () =>
            type === 'postgres'
              ? (driver.master?.totalCount ?? 0)
              : (driver.pool?._allConnections.length ?? 0),
          end: async () => {
            await ready.catch(() => undefined);
            if (ds.isInitialized) await ds.destroy();
          },
        };
      },
    }),
  ),
  ...(['postgres', 'mysql', 'mariadb'] as const).map(
    (dialect): Integration => ({
      name: `Sequelize ${dialect}`,
      engine: dialect === 'postgres' ? 'postgres' : 'mysql',
      open({ user, ...o }) {
        const sequelize = new Sequelize(
          iamSequelizeOptions({
            ...o,
            username: user,
            dialect,
            logging: false,
            pool: { max: POOL_SIZE, min: 0, acquire: 10_000 },
          }),
        );
        // Sequelize drops a connection its dialect no longer validates at the next acquire (the
        // mariadb dialect keeps a killed one in the pool until then).
        const manager = (sequelize as unknown as { connectionManager: SequelizeManager })
          .connectionManager;
        return {
          query: (sql) => sequelize.query(sql, { type: QueryTypes.SELECT }),
          liveConnections: () =>
            manager.pool._inUseObjects.length +
            manager.pool._availableObjects.filter((a) => manager._validate(a.resource)).length,
          end: () => sequelize.close(),
        };
      },
    }),
  ),
  ...(
    [
      ['PostgreSQL', PostgreSqlDriver, 'postgres'],
      ['MySQL', MySqlDriver, 'mysql'],
      ['MariaDB', MariaDbDriver, 'mysql'],
    ] as const
  ).map(
    ([label, driver, engine]): Integration => ({
      name: `MikroORM ${MIKRO_ORM_MAJOR} ${label}`,
      engine,
      open({ database, ...o }) {
        // MikroORM 6's knex warns "Connection Error: ..." for each connection a kill ended.
        const knexLog = connectionLossLog();
        const ready = MikroORM.init(
          iamMikroOrmOptions({
            ...o,
            // knex's log (MikroORM 6); MikroORM 7 has no knex, and pg's Pool takes `log` as a function.
            ...(MIKRO_ORM_MAJOR < 7 ? { driverOptions: { log: knexLog.log } } : {}),
            // MikroORM needs a database; the MySQL soak user has none of its own.
            dbName: database ?? 'information_schema',
            driver: driver as typeof PostgreSqlDriver,
            discovery: { warnWhenNoEntities: false },
            pool: { min: 0, max: POOL_SIZE, acquireTimeoutMillis: 10_000 },
          }),
        );
        // MikroORM 6 pools with knex; 7 with pg's and mysql2's own pools (its native client).
        let live = (): number => 0;
        ready
          .then(async (orm) => {
            const connection = orm.em.getConnection() as {
              getKnex?: () => { client: { pool: TarnPool } };
              getNativeClient?: () => Promise<PgPoolCounts | Mysql2CorePool>;
            };
            const tarn = connection.getKnex?.().client.pool;
            const native = await connection.getNativeClient?.();
            if (tarn) live = () => knexLive(tarn);
            else if (native && 'totalCount' in native) live = () => native.totalCount;
            else if (native) live = () => native._allConnections.length;
          })
          .catch(() => undefined);
        return {
          query: async (sql) => (await ready).em.getConnection().execute(sql),
          liveConnections: () => live(),
          end: async () => (await ready).close(true),
          unexpectedLog: knexLog.unexpected,
        };
      },
    }),
  ),
  ...(['postgres', 'mysql'] as const).map(
    (engine): Integration => ({
      // The driver adapter a PrismaClient runs its queries through (no generated client needed).
      name: `Prisma adapter ${engine === 'postgres' ? 'pg' : 'mariadb'}`,
      engine,
      replenishes: engine === 'mysql',
      open(o) {
        const factory =
          engine === 'postgres'
            ? iamPrismaPg({ ...o, max: POOL_SIZE, connectionTimeoutMillis: 10_000 })
            : iamPrismaMariaDb({ ...o, connectionLimit: POOL_SIZE, connectTimeout: 10_000 });
        const adapter = factory.connect();
        let pool: unknown;
        adapter.then(
          (a) => {
            pool = a.underlyingDriver();
          },
          () => undefined,
        );
        return {
          query: async (sql) => (await adapter).queryRaw({ sql, args: [], argTypes: [] }),
          liveConnections: () =>
            engine === 'postgres'
              ? ((pool as PgPoolCounts | undefined)?.totalCount ?? 0)
              : ((pool as { totalConnections(): number } | undefined)?.totalConnections() ?? 0),
          end: async () => (await adapter).dispose(),
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
  tokensSeen: number;
  providerCalls: number;
  providerFailures: number;
  providerHangs: number;
  keys: number;
  restarted: boolean;
  slowestHandOutMs: number;
}

const results: SoakResult[] = [];

async function soak(integration: Integration, index: number): Promise<SoakResult> {
  const { engine } = integration;
  const clock = testClock();
  let iam: IamEndpoint = await startIamEndpoint(engine, { clock });
  const app = await createIamUser(engine);
  const start = clock.now();
  const { port, endpoint } = iam;

  // Hourly rotating keys, as an instance role hands them out, each known to the emulator with its
  // expiry. The endpoint is down for two simulated minutes once.
  const keys = new Map<number, EmulatorCredentials>();
  let providerCalls = 0;
  let providerFailures = 0;
  let providerHangs = 0;
  const credentials: AwsCredentialsProvider = async () => {
    providerCalls += 1;
    const elapsed = clock.now() - start;
    if (elapsed >= HANG_AT && elapsed < HANG_AT + 2 * MINUTE) {
      providerHangs += 1;
      return new Promise<never>(() => {});
    }
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
    signingHost: endpoint.host,
    signingPort: endpoint.port,
    credentials,
    credentialsTimeoutMs: HANG_TIMEOUT_MS,
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

  const target = integration.open({
    host: iam.host,
    port,
    user: app.user,
    database: app.database,
    region: iam.region,
    signingHost: endpoint.host,
    signingPort: endpoint.port,
    tokenProvider,
    ssl: { ...iam.tls },
  });
  /**
   * Waits until client and emulator agree again: after a kill or the restart, every dead connection
   * is seen closed on both sides; before the clock moves, no login is in flight (a login that began
   * before a 5-minute jump would carry a token from before it, and one that is in flight during a
   * kill survives it). An on-demand pool has nothing open after a kill; once its queries answered,
   * it is quiet when every connection the emulator holds is one the pool counts as live: tarn (knex)
   * can still be opening one for an acquire that a released connection served instead. A pool that
   * opens connections in the background (mariadb's) must also have opened no new one since the
   * previous look: it decides to open one the moment a connection is released or created, so one
   * poll interval without a new one means it decided not to.
   */
  const settle = async (why: string, afterKill: boolean): Promise<void> => {
    const emulator = iam.emulator;
    const agreeing = `${why}: ${integration.name} and the emulator to agree`;
    if (integration.replenishes) {
      await waitForQuietEmulator(emulator, () => target.liveConnections(), agreeing);
      return;
    }
    if (!afterKill) {
      await waitFor(
        () => emulator.counters().connectionsActive === target.liveConnections(),
        agreeing,
      );
      return;
    }
    await waitFor(() => emulator.counters().connectionsActive === 0, `${why}: emulator side`);
    await waitFor(() => target.liveConnections() === 0, `${why}: ${integration.name} side`);
  };

  const counters: EmulatorCounters[] = [];
  let queries = 0;
  const failures: string[] = [];
  let restarted = false;
  try {
    for (let step = 0; step < STEPS; step += 1) {
      const elapsed = step * STEP;
      if (elapsed === RESTART_AT) {
        counters.push(iam.emulator.counters());
        const certificateAuthority = iam.emulator.certificateAuthority;
        await iam.stop();
        await settle('emulator stopped', true);
        iam = await startIamEndpoint(engine, {
          clock,
          endpointPort: port,
          emulator: { port, credentials: [...keys.values()], certificateAuthority },
        });
        expect(iam.port).toBe(port);
        expect(iam.endpoint).toEqual(endpoint);
        restarted = true;
      } else if (
        (step % KILL_EVERY === 0 && step > 0) ||
        elapsed === OUTAGE_AT ||
        elapsed === HANG_AT
      ) {
        // Also at the outage and the hang, so that a login needs a mint, and the mint credentials,
        // right then.
        await endSessionsOf(engine, app.user);
        await settle('sessions killed', true);
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
      await settle('before the clock moves', false);
      clock.advance(STEP);
    }
  } finally {
    counters.push(iam.emulator.counters());
    await target.end().catch(() => undefined);
    tokenProvider.close();
    await iam.stop();
    await app.drop();
  }

  expect(target.unexpectedLog?.() ?? []).toEqual([]);
  const sum = (f: (c: EmulatorCounters) => number): number =>
    counters.reduce((n, c) => n + f(c), 0);
  const result: SoakResult = {
    integration: `${integration.name} (${engine})`,
    queries,
    failed: failures.length,
    logins: sum((c) => c.accepted + c.rejected),
    rejectedInjected: sum((c) => c.rejectedByReason.injected ?? 0),
    mints: events.filter((e) => e.type === 'minted').length,
    tokensSeen: sum((c) => c.distinctTokens),
    providerCalls,
    providerFailures,
    providerHangs,
    keys: keys.size,
    restarted,
    slowestHandOutMs: Math.round(slowest * 10) / 10,
  };
  if (failures.length > 0) {
    console.log(`${result.integration}: ${failures.length} failed, first:`, failures.slice(0, 3), {
      rejectedByReason: counters.map((c) => c.rejectedByReason),
      events: events.slice(-12).map((e) => e.type),
    });
  }
  return result;
}

describe('soak: 24 simulated hours per integration x engine', () => {
  afterAll(() => {
    if (results.length > 0) console.table(results);
  });

  // test/mikro-orm-7 runs this file again with MikroORM 7 loaded: only the MikroORM cases there.
  const soaked = MIKRO_ORM_ONLY
    ? INTEGRATIONS.filter((integration) => integration.name.startsWith('MikroORM'))
    : INTEGRATIONS;
  soaked.forEach((integration, index) => {
    test.runIf(hasDatabase(integration.engine))(
      `${integration.name} (${integration.engine})`,
      async () => {
        const r = await soak(integration, index);
        results.push(r);

        expect(r.queries).toBe(STEPS * QUERIES_PER_STEP);
        // The target: not one failed query through kills, rotation, outage, rejections, restart.
        expect(r.failed).toBe(0);
        expect(r.restarted).toBe(true);
        // 24 hourly keys, each fetched when its hour's first mint needed it.
        expect(r.keys).toBe(24);
        // The outage was hit (a mint at 7:50 needed keys past 8:03) and absorbed by the cached keys.
        expect(r.providerFailures).toBeGreaterThanOrEqual(1);
        // One injected rejection per hour, each on a login (the :30 kill forces new ones), each
        // retried with a fresh token inside the same acquire.
        expect(r.rejectedInjected).toBe(24);
        expect(r.logins).toBeGreaterThanOrEqual(2 * 24);
        // Mints stay bounded: no mint per login, about one per 10 minutes of use plus one per
        // rejection, never a loop.
        expect(r.mints).toBeGreaterThanOrEqual(24 * 2);
        expect(r.mints).toBeLessThanOrEqual(24 * 8);
        // The server saw no more distinct tokens than were minted.
        expect(r.tokensSeen).toBeLessThanOrEqual(r.mints);
        // The hang was hit too, and each hung request was given up at credentialsTimeoutMs (else the
        // case would not finish) and absorbed by the cached keys like the outage.
        expect(r.providerHangs).toBeGreaterThanOrEqual(1);
        // Credentials are asked for only when a mint needs them.
        expect(r.providerCalls).toBeLessThanOrEqual(r.mints + r.providerFailures + r.providerHangs);
      },
      CASE_TIMEOUT_MS,
    );
  });
});
