// Shared by the ORM end-to-end tests (knex, TypeORM, Sequelize, MikroORM, ...): the scenarios every
// ORM integration must pass against the real database behind the emulator (a notes round trip, a
// cold storm, pool churn across token expiry, a busy hour, server rejections, TLS and option errors,
// no token text), written once over a small adapter.
// Each file registers its own tests and keeps what only its ORM does. Not a test file itself.
import { inspect } from 'node:util';
import { RdsIamError, type TokenEvent } from '@rds-iam/core';
import { afterAll, beforeAll, expect } from 'vitest';
import {
  adminQuery,
  createIamUser,
  databaseFor,
  type Engine,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';
import {
  endpointOptions,
  eventLog,
  MINUTE,
  mysql2Driver,
  pgDriver,
  type Row,
  range,
  rejectionOf,
  waitFor,
} from './driver-support.js';

/** How each engine words a rejected login (the emulator words it as RDS does). */
const REJECTION = {
  postgres: /PAM authentication failed for user/,
  mysql: /Access denied for user .* \(using password: YES\)/,
} as const satisfies Record<Engine, RegExp>;

/** The login user and database of the session a query runs on, as `u` and `d`. */
const WHO_AM_I = {
  postgres: 'SELECT session_user AS u, current_database() AS d',
  mysql: "SELECT SUBSTRING_INDEX(USER(), '@', 1) AS u, DATABASE() AS d",
} as const satisfies Record<Engine, string>;

/** A row of the notes tables the scenarios write. */
export interface Note {
  id: number;
  body: string;
  author: string | null;
}

/** What {@link eventLog} records. */
export type EventLog = ReturnType<typeof eventLog>;

/** Real time, for the pools' own timers (idle timeouts, reapers), which the test clock does not move. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** The types of the events `log` heard, in order, without cache hits. */
export function eventTypes(log: EventLog): TokenEvent['type'][] {
  return log.events.filter((e) => e.type !== 'hit').map((e) => e.type);
}

/**
 * How the scenarios reach one ORM: `P` is what owns a pool (a knex instance, a DataSource), `C` a
 * connection checked out of it (a knex transaction, a QueryRunner).
 */
export interface OrmUnderTest<P, C> {
  readonly engine: Engine;
  /** Runs `sql` on `on` and resolves to the first row. */
  firstRow(on: P | C, sql: string): Promise<Row | undefined>;
  /** Closes `pool` and its connections. */
  close(pool: P): Promise<void>;
}

/** One describe block's emulator endpoint and IAM user, and what the scenarios do through them. */
export interface OrmEndpoint<P, C> extends Omit<OrmUnderTest<P, C>, 'close'> {
  /** Whether the database checks the login user (a real server, not PGlite), known at collection. */
  readonly realServer: boolean;
  /** The emulator; set in `beforeAll`. */
  readonly iam: IamEndpoint;
  /** An IAM user with a database of its own; set in `beforeAll`. */
  readonly app: IamUser;
  /**
   * The rds-iam options for `app` through the emulator: dial 127.0.0.1, sign for the endpoint's RDS
   * name, trust the emulator's CA. Each call has its own `now` (same clock), and the token cache is
   * per `now`, so each test has its own cache and its own event counts unless it shares one `now`.
   */
  options(): ReturnType<typeof endpointOptions>;
  /** Remembers `pool` so that `afterAll` closes it if the test that opened it failed. */
  track<T extends P>(pool: T): T;
  /** Closes a tracked `pool`. */
  destroy(pool: P): Promise<void>;
  /** The server-side id of the session `on` runs on (backend pid / CONNECTION_ID). */
  sessionId(on: P | C): Promise<number>;
  /** Ends session `id` from the server side and waits until the emulator has closed it too. */
  killSession(id: number): Promise<void>;
}

/**
 * Starts an emulator endpoint and creates an IAM user with its own database for the enclosing
 * describe block (`beforeAll`), and closes what the tests left open, stops and drops them after it.
 * Call it inside `describe`.
 */
export function useOrmEndpoint<P, C>(orm: OrmUnderTest<P, C>): OrmEndpoint<P, C> {
  const { engine } = orm;
  let iam: IamEndpoint;
  let app: IamUser;
  const open: P[] = [];

  beforeAll(async () => {
    [iam, app] = await Promise.all([
      startIamEndpoint(engine),
      createIamUser(engine, { database: true }),
    ]);
  });
  afterAll(async () => {
    await Promise.all(open.splice(0).map((pool) => orm.close(pool).catch(() => undefined)));
    await iam.stop();
    await app.drop();
  });

  const sessionIdSql = (engine === 'postgres' ? pgDriver : mysql2Driver).sessionIdSql;
  const onServer = (id: number): Promise<unknown[]> =>
    engine === 'postgres'
      ? adminQuery(iam.database, 'SELECT 1 FROM pg_stat_activity WHERE pid = $1', [id])
      : adminQuery(iam.database, 'SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?', [id]);

  return {
    engine,
    realServer: databaseFor(engine)?.enforcesLoginUser === true,
    get iam() {
      return iam;
    },
    get app() {
      return app;
    },
    firstRow: (on, sql) => orm.firstRow(on, sql),
    options: () => ({
      ...endpointOptions(iam, app.user, app.database),
      now: () => iam.clock.now(),
    }),
    track(pool) {
      open.push(pool);
      return pool;
    },
    async destroy(pool) {
      const at = open.indexOf(pool);
      if (at >= 0) open.splice(at, 1);
      await orm.close(pool);
    },
    async sessionId(on) {
      return Number((await orm.firstRow(on, sessionIdSql))?.id);
    },
    async killSession(id) {
      const before = iam.emulator.counters().connectionsActive;
      // The pool's own idle timeout may end the session between the look-up and the kill (churny
      // closes idle ones after 250 ms): then it ended as a kill would have, and there is nothing
      // to wait for (the emulator's count may have dropped before `before` was read).
      if (engine === 'postgres') {
        const [row] = await adminQuery(iam.database, 'SELECT pg_terminate_backend($1) AS ended', [
          id,
        ]);
        if (row?.ended === false) return;
      } else {
        const ended = await adminQuery(iam.database, `KILL CONNECTION ${Number(id)}`).then(
          () => true,
          (err: { code?: string }) => {
            if (err.code !== 'ER_NO_SUCH_THREAD') throw err;
            return false;
          },
        );
        if (!ended) return;
      }
      // Gone on the server, and its client socket closed by the emulator (the driver sees the end of
      // the stream right after).
      const deadline = Date.now() + 10_000;
      while ((await onServer(id)).length > 0) {
        if (Date.now() > deadline) throw new Error(`session ${id} is still on the server`);
        await sleep(10);
      }
      await waitFor(
        () => iam.emulator.counters().connectionsActive < before,
        `session ${id} to close`,
        10_000,
      );
      await sleep(50);
    },
  };
}

/** The notes table of a scenario, through an ORM's own API (query builder, repository). */
export interface NotesAccess {
  insert(notes: Omit<Note, 'id'>[]): Promise<unknown>;
  /** Every note's `body` and `author` (nothing else), in `id` order. */
  list(): Promise<unknown>;
  bodies(): Promise<string[]>;
  /** Runs `work` in a transaction, given a way to insert a note inside it. */
  transaction(
    work: (insert: (note: Omit<Note, 'id'>) => Promise<unknown>) => Promise<void>,
  ): Promise<void>;
}

/**
 * Writes and reads notes through `notes` on `pool`: a committed and a rolled-back transaction, and
 * (on a real server) the session is the IAM user's, in its database.
 */
export async function notesRoundTrip<P, C>(
  orm: OrmEndpoint<P, C>,
  pool: P,
  notes: NotesAccess,
): Promise<void> {
  await notes.insert([
    { body: 'first', author: 'ann' },
    { body: 'second', author: 'bob' },
  ]);
  expect(await notes.list()).toEqual([
    { body: 'first', author: 'ann' },
    { body: 'second', author: 'bob' },
  ]);

  await notes.transaction(async (insert) => {
    await insert({ body: 'third', author: 'cy' });
  });
  await expect(
    notes.transaction(async (insert) => {
      await insert({ body: 'never', author: 'dee' });
      throw new Error('roll back');
    }),
  ).rejects.toThrow('roll back');
  expect((await notes.bodies()).sort()).toEqual(['first', 'second', 'third']);

  // PGlite takes any login user, so only a real server shows whom the token logged in.
  if (orm.realServer) {
    expect(await orm.firstRow(pool, WHO_AM_I[orm.engine])).toEqual({
      u: orm.app.user,
      d: orm.app.database,
    });
  }
}

/** The pools of {@link poolChurn}, opened (and migrated) by the test. */
export interface ChurnPools<P, C> {
  /** A pool of up to 4 connections whose idle ones are closed soon. */
  readonly churny: P;
  /** A pool of one connection, not closed for being idle within the test. */
  readonly steady: P;
  /** A connection of `churny` inside an open transaction. */
  readonly busy: C;
  /** Inserts a note with `body` through `churny`, then counts the notes. */
  traffic(body: string): Promise<unknown>;
  /** Inserts a note with `body` inside the busy transaction, commits it and lets go of `busy`. */
  commitBusy(body: string): Promise<void>;
  /** How long to wait after `minute` (0: not at all) so that `churny`'s idle timeout closes some. */
  pauseAfter(minute: number): number;
}

/**
 * 16 minutes of traffic on `churny` (4 notes a minute, 64 in all, plus one in the busy transaction),
 * one of its idle sessions ended by the server every 5 minutes: no query fails, and the busy and the
 * steady connections keep their sessions across the token's expiry at minute 15. The test checks
 * the logins it can count itself, then closes the pools.
 */
export async function poolChurn<P, C>(
  orm: OrmEndpoint<P, C>,
  log: EventLog,
  pools: ChurnPools<P, C>,
): Promise<void> {
  const { churny, steady, busy } = pools;
  const failures: unknown[] = [];
  const attempt = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      failures.push(err);
      return undefined;
    }
  };
  const busyId = await orm.sessionId(busy);
  const steadyId = await orm.sessionId(steady);
  const busyIds: (number | undefined)[] = [];
  const steadyIds: (number | undefined)[] = [];
  let killed = 0;

  for (let minute = 1; minute <= 16; minute++) {
    orm.iam.clock.advance(MINUTE);
    await Promise.all([1, 2, 3, 4].map((i) => attempt(() => pools.traffic(`m${minute}-${i}`))));
    busyIds.push(await attempt(() => orm.sessionId(busy)));
    steadyIds.push(await attempt(() => orm.sessionId(steady)));
    if (minute % 5 === 0) {
      // The server ends one of the pool's idle connections (failover, idle timeout, KILL).
      const victim = await attempt(() => orm.sessionId(churny));
      if (victim !== undefined && victim !== busyId) {
        await orm.killSession(victim);
        killed++;
      }
    }
    const pause = pools.pauseAfter(minute);
    if (pause > 0) await sleep(pause);
  }
  await pools.commitBusy('inside the long transaction');

  expect(failures).toEqual([]);
  expect(killed).toBe(3);
  // The busy connection and the idle one are the same sessions after the token they logged in
  // with has expired: nothing destroys a healthy connection because its token was refreshed.
  expect(new Set(busyIds)).toEqual(new Set([busyId]));
  expect(new Set(steadyIds)).toEqual(new Set([steadyId]));
  expect(orm.iam.emulator.counters().rejected).toBe(0);
  const mints = log.count('minted');
  expect(mints).toBeGreaterThanOrEqual(2);
  expect(mints).toBeLessThanOrEqual(3);
  expect(log.count('invalidated')).toBe(0);
}

/**
 * An hour in 2-minute steps on `pool` (up to 3 connections, idle ones closed fast): 3 queries a
 * step, the server ending a session every third step, none failing, and the mints bounded. The test
 * checks the logins against what it can count itself, then closes the pool.
 */
export async function busyHour<P, C>(
  orm: OrmEndpoint<P, C>,
  log: EventLog,
  pool: P,
  /** Real-time pause after `step` (ms), or a wait of the test's own (a pool's logins in flight). */
  pauseAfter: (step: number) => number | Promise<unknown>,
): Promise<void> {
  const failures: unknown[] = [];
  let killed = 0;
  for (let step = 1; step <= 30; step++) {
    orm.iam.clock.advance(2 * MINUTE);
    await Promise.all(
      [1, 2, 3].map(() =>
        orm.firstRow(pool, 'SELECT 1 AS one').catch((err: unknown) => failures.push(err)),
      ),
    );
    if (step % 3 === 0) {
      await orm.killSession(await orm.sessionId(pool));
      killed++;
    }
    const pause = pauseAfter(step);
    if (typeof pause !== 'number') await pause;
    else if (pause > 0) await sleep(pause);
  }
  expect(failures).toEqual([]);
  expect(killed).toBe(10);
  expect(orm.iam.emulator.counters().rejectedByReason).toEqual({});
  // A token lives 15 minutes and is refreshed from minute 10 on, when a connection asks: about one
  // mint per 10 minutes, never one per connection, never a loop.
  const mints = log.count('minted');
  expect(mints).toBeGreaterThanOrEqual(4);
  expect(mints).toBeLessThanOrEqual(7);
}

/**
 * On `pool`, warmed up (one connection open, one token minted): the server rejects the login of the
 * next new connection, and the pool logs in again with a fresh token, once.
 */
export async function rejectedOnceRetried<P, C>(
  orm: OrmEndpoint<P, C>,
  log: EventLog,
  pool: P,
): Promise<void> {
  expect(eventTypes(log)).toEqual(['minted']);
  // Drop the pool's connection so that the next query needs a new one.
  const first = await orm.sessionId(pool);
  orm.iam.emulator.rejectNextLogins(1);
  await orm.killSession(first);

  // The rejected login drops its token and the pool logs in again with a fresh one.
  await orm.firstRow(pool, 'SELECT 1 AS one');
  expect(eventTypes(log)).toEqual(['minted', 'invalidated', 'minted']);
  // And that is all: more queries reuse the connection, no further mints, no retries.
  for (let i = 0; i < 5; i++) await orm.firstRow(pool, 'SELECT 1 AS one');
  await sleep(100);
  expect(log.count('minted')).toBe(2);
  expect(orm.iam.emulator.counters()).toMatchObject({
    rejected: 1,
    rejectedByReason: { injected: 1 },
  });
}

/**
 * After {@link rejectedOnceRetried}: the server rejects two logins in a row, so the query fails after
 * one retry with an error that says what to check; the next query logs in. Resolves to that error.
 */
export async function rejectedTwiceThenRecovers<P, C>(
  orm: OrmEndpoint<P, C>,
  pool: P,
): Promise<Error & Row> {
  await orm.killSession(await orm.sessionId(pool));
  orm.iam.emulator.rejectNextLogins(2);
  const err = await rejectionOf(orm.firstRow(pool, 'SELECT 1 AS one'));
  expect(err.message).toMatch(/rejected the IAM token .* twice/);
  // The server's own words are kept in the message.
  expect(err.message).toMatch(REJECTION[orm.engine]);
  expect(orm.iam.emulator.counters()).toMatchObject({ rejected: 3 });
  await orm.firstRow(pool, 'SELECT 1 AS one');
  return err;
}

/**
 * `connecting` dials the emulator without its CA (so against the RDS CAs, which did not sign its
 * certificate): it fails with ERR_TLS_VERIFY, and no login was tried. Resolves to the error.
 *
 * With `emptyLogin`, the client may have logged in with an empty password (never the token): the
 * mariadb connector checks a MariaDB server's certificate only after authentication, so rds-iam
 * withholds the token and the connector sends nothing in its place.
 */
export async function unknownCaRefused<P, C>(
  orm: OrmEndpoint<P, C>,
  connecting: Promise<unknown>,
  { emptyLogin = false }: { emptyLogin?: boolean } = {},
): Promise<Error & Row> {
  const err = await rejectionOf(connecting);
  expect(err.code).toBe('ERR_TLS_VERIFY');
  expect(err.message).toMatch(/certificate/i);
  const counters = orm.iam.emulator.counters();
  expect(counters.accepted).toBe(0);
  if (emptyLogin) {
    // The emulator saw no token: a login without one reads as malformed.
    for (const reason of Object.keys(counters.rejectedByReason)) expect(reason).toBe('malformed');
  } else {
    // The emulator never saw a password: no login was accepted or rejected.
    expect(counters.rejected).toBe(0);
  }
  return err;
}

/** What is wrong with some options, a call that builds them, and the RdsIamError code it throws. */
export type OptionErrorCase = readonly [what: string, build: () => unknown, code: string];

/**
 * Every case throws an RdsIamError with its code, and `loopbackWithoutTls` throws nothing; none of
 * them opened a connection.
 */
export function optionErrorsBeforeConnecting<P, C>(
  orm: OrmEndpoint<P, C>,
  cases: readonly OptionErrorCase[],
  loopbackWithoutTls: () => unknown,
): void {
  for (const [what, build, code] of cases) {
    let thrown: unknown;
    try {
      build();
    } catch (err) {
      thrown = err;
    }
    expect(thrown, what).toBeInstanceOf(RdsIamError);
    expect((thrown as RdsIamError).code, what).toBe(code);
  }
  // Loopback without TLS is allowed (an emulator, a tunnel's local end).
  expect(loopbackWithoutTls).not.toThrow();
  expect(orm.iam.emulator.counters().connectionsOpened).toBe(0);
}

/** How many new connections {@link coldStorm} opens at once. */
export const STORM = 40;

/** A statement that holds its connection long enough that every query of a storm needs its own. */
export const HOLD_SQL = {
  postgres: 'SELECT 1 AS one FROM pg_sleep(0.3)',
  mysql: 'SELECT SLEEP(0.3) AS one',
} as const satisfies Record<Engine, string>;

/**
 * {@link STORM} queries at once on a pool of {@link STORM} connections that a cold token cache
 * serves: `open` builds that pool with the `credentials` and `onEvent` given (a credentials function
 * the cache has never seen, which counts its calls). Every query runs, one credential request and one
 * mint serve all the logins, and none is rejected. Closes the pool.
 */
export async function coldStorm<P, C>(
  orm: OrmEndpoint<P, C>,
  open: (iam: {
    credentials: () => Promise<typeof orm.iam.credentials>;
    onEvent: EventLog['onEvent'];
  }) => P | Promise<P>,
): Promise<void> {
  orm.iam.emulator.resetCounters();
  const log = eventLog();
  let credentialRequests = 0;
  const credentials = async () => {
    credentialRequests += 1;
    // As a container credentials endpoint might: long enough for the logins to pile up.
    await sleep(100);
    return orm.iam.credentials;
  };
  const pool = orm.track(await open({ credentials, onEvent: log.onEvent }));
  const sql = HOLD_SQL[orm.engine];
  const rows = await Promise.all(range(STORM).map(() => orm.firstRow(pool, sql)));
  expect(rows).toHaveLength(STORM);
  expect(credentialRequests).toBe(1);
  expect(log.count('minted')).toBe(1);
  const counters = orm.iam.emulator.counters();
  // A storm of logins, and one token for all of them. Each query holds its connection 0.3 s, so
  // nearly all need their own; on a loaded machine the last logins can take longer than that, and
  // the pool then hands a finished query's connection on (one CI run saw 35 of 40), so more than
  // half is what is asserted.
  expect(counters.accepted).toBeGreaterThan(STORM / 2);
  expect(counters.rejected).toBe(0);
  await orm.destroy(pool);
}

/**
 * How long {@link slowCredentials}' source takes: longer than the mariadb connector's own connect
 * timeout (1 s), which starts before the connection asks for its token.
 */
export const SLOW_CREDENTIALS_MS = 1_500;

/**
 * A credential source slower than a driver's own connect timeout (a container endpoint on a busy
 * host, STS on a cold start): the first connection still logs in, within rds-iam's own bound
 * (`credentialsTimeoutMs`), instead of failing with the driver's "Connection timeout". `open` builds
 * a pool with the `credentials` and `onEvent` given. Closes the pool.
 */
export async function slowCredentials<P, C>(
  orm: OrmEndpoint<P, C>,
  open: (iam: {
    credentials: () => Promise<typeof orm.iam.credentials>;
    onEvent: EventLog['onEvent'];
  }) => P | Promise<P>,
): Promise<void> {
  orm.iam.emulator.resetCounters();
  const log = eventLog();
  let credentialRequests = 0;
  const credentials = async () => {
    credentialRequests += 1;
    await sleep(SLOW_CREDENTIALS_MS);
    return orm.iam.credentials;
  };
  const pool = orm.track(await open({ credentials, onEvent: log.onEvent }));
  expect(await orm.firstRow(pool, HOLD_SQL[orm.engine])).toBeDefined();
  expect(credentialRequests).toBe(1);
  expect(log.count('minted')).toBe(1);
  expect(orm.iam.emulator.counters()).toMatchObject({ rejected: 0 });
  expect(orm.iam.emulator.counters().accepted).toBeGreaterThanOrEqual(1);
  await orm.destroy(pool);
}

/**
 * No token text in what an application can see: errors (message, stack, causes, as `inspect` prints
 * them), events and anything else in `seen`.
 */
export function noTokenText(seen: readonly unknown[]): void {
  for (const value of seen) {
    const text = `${inspect(value, { depth: 8, showHidden: true })} ${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) ?? ''}`;
    expect(text).not.toMatch(/X-Amz-Signature=[0-9a-f]|X-Amz-Security-Token=[^[&\s]/i);
  }
}
