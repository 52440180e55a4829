import { iamPostgresOptions } from '@rds-iam/postgres';
import postgres from 'postgres';
import { describe, expect, test } from 'vitest';
import { createIamUser, hasDatabase, startIamEndpoint } from '../harness/index.js';
import { type CommonPoolOptions, eventLog, type Row, rejectionOf } from './driver-support.js';
import type { Note } from './orm-scenarios.js';
import { expectNoTokenText, poolOrmScenarios } from './pool-orm-scenarios.js';

// @rds-iam/postgres end to end: postgres.js 3.4 logging in through the emulator to the real
// PostgreSQL, with the scenarios every pool integration passes (pool-orm-scenarios.ts), plus what
// only postgres.js needs: a `pass` that fails must fail the query, never the process.

type Sql = postgres.Sql;
type Tx = postgres.TransactionSql;

/** The scenarios name the user `username`, as postgres.js documents it; the tests below use `user`. */
function options({
  size: _size,
  user,
  ...common
}: CommonPoolOptions): Parameters<typeof iamPostgresOptions>[0] {
  return { ...common, username: user };
}

function openSql(common: CommonPoolOptions, shape: { max: number; idleMs: number }): Sql {
  return postgres(
    iamPostgresOptions({
      ...options(common),
      max: shape.max,
      idle_timeout: shape.idleMs / 1000,
      connect_timeout: 30,
      onnotice: () => undefined,
    }),
  );
}

const rows = (result: readonly Row[]): Row[] => result.map((row) => ({ ...row }));

poolOrmScenarios<Sql, Tx>({
  engine: 'postgres',
  title: 'postgres.js (@rds-iam/postgres) through the emulator',
  open: openSql,
  async firstRow(on, sql) {
    return (await on.unsafe<Row[]>(sql))[0];
  },
  close: (sql) => sql.end({ timeout: 5 }),
  notes(sql, table) {
    return {
      insert: (notes) => sql`INSERT INTO ${sql(table)} ${sql(notes, 'body', 'author')}`,
      list: async () => rows(await sql`SELECT body, author FROM ${sql(table)} ORDER BY id`),
      bodies: async () =>
        (await sql<Note[]>`SELECT body FROM ${sql(table)} ORDER BY id`).map((n) => n.body),
      transaction: async (work) => {
        await sql.begin((tx) =>
          work((note) => tx`INSERT INTO ${tx(table)} ${tx(note, 'body', 'author')}`),
        );
      },
      count: async () =>
        Number((await sql<{ n: string }[]>`SELECT count(*) AS n FROM ${sql(table)}`)[0]?.n),
    };
  },
  begin(sql, table) {
    // sql.begin() runs a callback; keep it open until commit() lets it finish.
    let finish: (body: string) => void = () => undefined;
    const body = new Promise<string>((resolve) => {
      finish = resolve;
    });
    return new Promise((resolve, reject) => {
      const done = sql
        .begin(async (tx) => {
          resolve({
            tx,
            commit: async (text) => {
              finish(text);
              await done;
            },
          });
          const text = await body;
          await tx`INSERT INTO ${tx(table)} ${tx({ body: text }, 'body')}`;
        })
        .catch(reject);
    });
  },
  optionErrors(base) {
    const common = options(base);
    return [
      ['ssl: false', () => iamPostgresOptions({ ...common, ssl: false }), 'ERR_TLS_REQUIRED'],
      [
        'a password',
        () => iamPostgresOptions({ ...common, password: 'secret' } as never),
        'ERR_CONFLICTING_OPTIONS',
      ],
      [
        'a pass function',
        () => iamPostgresOptions({ ...common, pass: () => 'secret' } as never),
        'ERR_CONFLICTING_OPTIONS',
      ],
      [
        'a socket of its own',
        () => iamPostgresOptions({ ...common, socket: () => null } as never),
        'ERR_CONFLICTING_OPTIONS',
      ],
      [
        'hostname instead of host',
        () => iamPostgresOptions({ ...common, hostname: 'other.example.com' } as never),
        'ERR_INVALID_OPTION',
      ],
      ['no host', () => iamPostgresOptions({ ...common, host: '' }), 'ERR_INVALID_HOST'],
      ['no user', () => iamPostgresOptions({ ...common, username: '' }), 'ERR_INVALID_USER'],
      [
        '`user` and `username` disagree',
        () => iamPostgresOptions({ ...common, user: 'someone-else' }),
        'ERR_CONFLICTING_OPTIONS',
      ],
      ['a bad port', () => iamPostgresOptions({ ...common, port: 70_000 }), 'ERR_INVALID_PORT'],
      ['not an object', () => iamPostgresOptions(null as never), 'ERR_INVALID_OPTION'],
    ];
  },
  loopbackWithoutTls: (base) => iamPostgresOptions(options(base)),
});

describe.runIf(hasDatabase('postgres'))('postgres.js: a token that cannot be had', () => {
  test('the query fails with ERR_CREDENTIALS, the process keeps running, nothing reaches the server', async () => {
    const iam = await startIamEndpoint('postgres');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const log = eventLog();
      const sql = postgres(
        iamPostgresOptions({
          host: iam.host,
          port: iam.port,
          user: 'app',
          region: iam.region,
          signingHost: iam.endpoint.host,
          signingPort: iam.endpoint.port,
          ssl: { ca: iam.ca },
          now: iam.clock.now,
          onEvent: log.onEvent,
          // A credential source that fails, as an expired SSO session or an unreachable IMDS does:
          // postgres.js awaits `pass` without catching, so a rejection there would end the process.
          credentials: async () => {
            throw new Error('no credentials here');
          },
          max: 1,
          backoff: () => 0,
        }),
      );
      const err = await rejectionOf(sql`SELECT 1 AS one`);
      expect(err.name).toBe('RdsIamError');
      expect(err.code).toBe('ERR_CREDENTIALS');
      // And again: the connection is reusable, the next attempt fails the same way.
      const again = await rejectionOf(sql`SELECT 1 AS one`);
      expect(again.code).toBe('ERR_CREDENTIALS');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
      expect(iam.emulator.counters()).toMatchObject({ accepted: 0, rejected: 0 });
      expectNoTokenText(err);
      await sql.end({ timeout: 5 });
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await iam.stop();
    }
  });
});

describe.runIf(hasDatabase('postgres'))('postgres.js: query cancellation', () => {
  test('cancel() reaches the server through the rds-iam socket (TLS, no login)', async () => {
    const [iam, app] = await Promise.all([startIamEndpoint('postgres'), createIamUser('postgres')]);
    try {
      const sql = postgres(
        iamPostgresOptions({
          host: iam.host,
          port: iam.port,
          user: app.user,
          database: app.database,
          region: iam.region,
          signingHost: iam.endpoint.host,
          signingPort: iam.endpoint.port,
          credentials: iam.credentials,
          ssl: { ca: iam.ca },
          now: iam.clock.now,
          max: 1,
        }),
      );
      await sql`SELECT 1`;
      const slow = sql`SELECT pg_sleep(10)`.execute();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      slow.cancel();
      const err = await rejectionOf(slow);
      // 57014 query_canceled: the CancelRequest went out on a new connection rds-iam opened.
      expect(err.code).toBe('57014');
      expect(Date.now() - started).toBeLessThan(5_000);
      // The cancel connection sends no password: one login in all.
      expect(iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
      await sql.end({ timeout: 5 });
    } finally {
      await iam.stop();
      await app.drop();
    }
  });
});
