// The orm-scenarios.ts scenarios, registered for an integration whose whole setup is "open a pool
// with rds-iam options": postgres.js (iamPostgresOptions), and Drizzle and Kysely on the @rds-iam/pg
// and @rds-iam/mysql2 pools. Each test file gives an adapter; the scenarios themselves stay in
// orm-scenarios.ts. Adds the cold storm (40 new connections, one credential request) and the
// token-text check these integrations share. Not a test file itself.
import { inspect } from 'node:util';
import type { AwsCredentials } from '@rds-iam/core';
import { describe, expect, test } from 'vitest';
import { type Engine, hasDatabase } from '../harness/index.js';
import { type CommonPoolOptions, eventLog, type Row, range } from './driver-support.js';
import {
  busyHour,
  type NotesAccess,
  notesRoundTrip,
  type OptionErrorCase,
  type OrmUnderTest,
  optionErrorsBeforeConnecting,
  poolChurn,
  rejectedOnceRetried,
  rejectedTwiceThenRecovers,
  sleep,
  unknownCaRefused,
  useOrmEndpoint,
} from './orm-scenarios.js';

/** How big a pool is and how soon it closes idle connections. */
export interface PoolShape {
  max: number;
  /** Idle connections are closed after this long (ms). */
  idleMs: number;
}

/** `shape` as node-postgres pool options, with the scenarios' 30 s connect bound. */
export function pgPoolShape(shape: PoolShape) {
  return { max: shape.max, idleTimeoutMillis: shape.idleMs, connectionTimeoutMillis: 30_000 };
}

/** `shape` as mysql2 pool options, with the scenarios' 30 s connect bound. */
export function mysql2PoolShape(shape: PoolShape) {
  return {
    connectionLimit: shape.max,
    // mysql2 closes idle connections only above maxIdle.
    maxIdle: shape.idleMs < 60_000 ? 0 : shape.max,
    idleTimeout: shape.idleMs,
    connectTimeout: 30_000,
  };
}

/** A transaction held open on one connection of a pool. */
export interface HeldTransaction<C> {
  readonly tx: C;
  /** Inserts a note with `body` into `table` inside it and commits. */
  commit(body: string): Promise<void>;
}

/** An integration that is a pool opened from rds-iam options, as the scenarios reach it. */
export interface PoolOrmUnderTest<P, C> extends OrmUnderTest<P, C> {
  /** The describe block's title. */
  readonly title: string;
  /** Opens a pool (`P`) logging in with `options`. */
  open(options: CommonPoolOptions, shape: PoolShape): P;
  /** The notes table `table` (created by the scenario) through the integration's own API. */
  notes(pool: P, table: string): NotesAccess & { count(): Promise<number> };
  /** Begins a transaction on one connection of `pool` and keeps it open. */
  begin(pool: P, table: string): Promise<HeldTransaction<C>>;
  /** Bad options, each with the RdsIamError code it must throw, built from a valid `base`. */
  optionErrors(base: CommonPoolOptions): OptionErrorCase[];
  /** Builds options for loopback without TLS, which must not throw. */
  loopbackWithoutTls(base: CommonPoolOptions): unknown;
}

const NOTES_DDL: Record<Engine, (table: string) => string> = {
  postgres: (t) =>
    `CREATE TABLE ${t} (id serial PRIMARY KEY, body varchar(200) NOT NULL, author varchar(100))`,
  mysql: (t) =>
    `CREATE TABLE ${t} (id int AUTO_INCREMENT PRIMARY KEY, body varchar(200) NOT NULL, author varchar(100))`,
};

const SLEEP_SQL: Record<Engine, string> = {
  postgres: 'SELECT pg_backend_pid() AS id, pg_sleep(0.3) AS slept',
  mysql: 'SELECT CONNECTION_ID() AS id, SLEEP(0.3) AS slept',
};

/** Fails when a token's signature or session token appears in `what` (inspected deeply). */
export function expectNoTokenText(what: unknown): void {
  const text = typeof what === 'string' ? what : inspect(what, { depth: 8 });
  expect(text).not.toMatch(/X-Amz-Signature|X-Amz-Security-Token|X-Amz-Credential/);
}

/** Registers the shared scenarios for `integration` against its engine's database. */
export function poolOrmScenarios<P, C>(integration: PoolOrmUnderTest<P, C>): void {
  const { engine } = integration;
  describe.runIf(hasDatabase(engine))(integration.title, () => {
    const orm = useOrmEndpoint<P, C>(integration);
    const { realServer } = orm;
    const open = (extra: Partial<CommonPoolOptions>, shape: PoolShape): P =>
      orm.track(integration.open({ ...orm.options(), ...extra }, shape));

    test('notes round trip with a committed and a rolled-back transaction, one token', async () => {
      orm.iam.emulator.resetCounters();
      const log = eventLog();
      const pool = open({ onEvent: log.onEvent }, { max: 4, idleMs: 60_000 });
      await orm.firstRow(pool, NOTES_DDL[engine]('notes'));
      await notesRoundTrip(orm, pool, integration.notes(pool, 'notes'));
      expect(orm.iam.emulator.counters().rejected).toBe(0);
      expect(log.count('minted')).toBe(1);
      expectNoTokenText(log.events);
      await orm.destroy(pool);
    });

    test.runIf(realServer)(
      '16 minutes of pool churn: no failed query, busy and idle connections survive the refresh',
      async () => {
        orm.iam.emulator.resetCounters();
        const log = eventLog();
        // One `now` for both pools: one token cache, as two pools for one user in a process share.
        const now = () => orm.iam.clock.now();
        const churny = open({ now, onEvent: log.onEvent }, { max: 4, idleMs: 250 });
        const steady = open({ now, onEvent: log.onEvent }, { max: 1, idleMs: 600_000 });
        await orm.firstRow(churny, NOTES_DDL[engine]('churn_notes'));
        const notes = integration.notes(churny, 'churn_notes');
        await orm.firstRow(steady, 'SELECT 1 AS one');
        const busy = await integration.begin(churny, 'churn_notes');
        await poolChurn(orm, log, {
          churny,
          steady,
          busy: busy.tx,
          traffic: async (body) => {
            await notes.insert([{ body, author: null }]);
            return notes.count();
          },
          commitBusy: (body) => busy.commit(body),
          pauseAfter: (minute) => (minute % 4 === 2 ? 450 : 0),
        });
        expect(await notes.count()).toBe(65);
        await Promise.all([orm.destroy(churny), orm.destroy(steady)]);
      },
    );

    test.runIf(realServer)(
      'a busy hour: token expiry crossed again and again, sessions killed, mints bounded',
      async () => {
        orm.iam.emulator.resetCounters();
        const log = eventLog();
        const pool = open({ onEvent: log.onEvent }, { max: 3, idleMs: 150 });
        await busyHour(orm, log, pool, (step) => (step % 5 === 0 ? 300 : 0));
        expect(orm.iam.emulator.counters().accepted).toBeGreaterThan(log.count('minted'));
        await orm.destroy(pool);
      },
    );

    test('a server rejection is retried once with a fresh token; twice fails with what to check', async () => {
      orm.iam.emulator.resetCounters();
      const log = eventLog();
      const pool = open({ onEvent: log.onEvent }, { max: 1, idleMs: 60_000 });
      await orm.firstRow(pool, 'SELECT 1 AS one');
      await rejectedOnceRetried(orm, log, pool);
      const err = await rejectedTwiceThenRecovers(orm, pool);
      expect(err.code).toBe('ERR_AUTH_REJECTED');
      expectNoTokenText(err);
      expectNoTokenText(log.events);
      await orm.destroy(pool);
    });

    test('a cold storm of 40 new connections: one credential request, one mint', async () => {
      orm.iam.emulator.resetCounters();
      const log = eventLog();
      let requests = 0;
      const keys = orm.iam.credentials as AwsCredentials;
      // A credential source that takes a while, as a container or instance endpoint does.
      const credentials = async (): Promise<AwsCredentials> => {
        requests += 1;
        await sleep(100);
        return keys;
      };
      const pool = open({ credentials, onEvent: log.onEvent }, { max: 40, idleMs: 60_000 });
      const rows = await Promise.all(range(40).map(() => orm.firstRow(pool, SLEEP_SQL[engine])));
      const sessions = new Set(rows.map((row: Row | undefined) => String(row?.id)));
      expect(sessions.size).toBe(40);
      expect(orm.iam.emulator.counters()).toMatchObject({ accepted: 40, rejected: 0 });
      expect(requests).toBe(1);
      expect(log.count('minted')).toBe(1);
      await orm.destroy(pool);
    });

    test('TLS: an unknown CA is refused before the token is sent', async () => {
      orm.iam.emulator.resetCounters();
      const log = eventLog();
      // No `ssl`: verified against the RDS CAs, which did not sign the emulator's certificate.
      const pool = open({ ssl: undefined, onEvent: log.onEvent }, { max: 1, idleMs: 60_000 });
      const err = await unknownCaRefused(orm, orm.firstRow(pool, 'SELECT 1 AS one'));
      expectNoTokenText(err);
      expect(log.count('invalidated')).toBe(0);
      await orm.destroy(pool);
    });

    test('bad options: RdsIamError with a code before connecting', () => {
      orm.iam.emulator.resetCounters();
      const base = {
        ...orm.options(),
        host: 'mydb.abc123xyz.us-east-1.rds.amazonaws.com',
        port: 5432,
        signingHost: undefined,
        signingPort: undefined,
      };
      optionErrorsBeforeConnecting(orm, integration.optionErrors(base), () =>
        integration.loopbackWithoutTls({ ...orm.options(), ssl: false }),
      );
    });
  });
}
