import type { PeerCertificate } from 'node:tls';
import { inspect } from 'node:util';
import { PrismaMariaDb } from '@prisma/adapter-mariadb';
import { RdsIamError, type TokenEvent } from '@rds-iam/core';
import { describe, expect, it } from 'vitest';
import {
  buildMariaDbConfig,
  type IamPrismaMariaDbOptions,
  iamPrismaMariaDb,
  withWorkingMinimumIdle,
} from '../src/mariadb.js';

const HOST = 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com';
const TOKEN = `${HOST}:3306/?Action=connect&DBUser=app&X-Amz-Signature=0123456789abcdef`;

type Opts = Record<string, unknown> & {
  password?: string;
  ssl?: { checkServerIdentity(host: string, cert: PeerCertificate): Error | undefined };
  logger?: { error?: (err: unknown) => void; network?: unknown };
};
type Stream = (this: Opts, cb: (err?: Error | null, stream?: unknown) => void) => unknown;

function certFor(name: string): PeerCertificate {
  return { subject: { CN: name }, subjectaltname: `DNS:${name}` } as unknown as PeerCertificate;
}

function setup(extra: Partial<IamPrismaMariaDbOptions> = {}) {
  const events: TokenEvent[] = [];
  let mints = 0;
  const built = buildMariaDbConfig({
    host: HOST,
    user: 'app',
    database: 'app',
    now: () => Date.now(),
    sign: ({ signingDate }) => {
      mints += 1;
      return { token: TOKEN, expiresAt: signingDate.getTime() + 900_000 };
    },
    onEvent: (e) => events.push(e),
    ...extra,
  });
  const config = built.config as Record<string, unknown>;
  /** A connection's own copy of the options, as the connector makes one, and `stream` called on it. */
  const connect = async (): Promise<{ opts: Opts; err: Error | null | undefined }> => {
    const opts: Opts = { ...config };
    const err = await new Promise<Error | null | undefined>((resolve) => {
      (config.stream as Stream).call(opts, (e) => resolve(e));
    });
    return { opts, err };
  };
  /** A pool that never hands out a connection: requests wait until the gate fails them. */
  const waitingPool = {
    getConnection: () => new Promise<never>(() => {}),
    end: async () => {},
    idleConnections: () => 1,
    totalConnections: () => 1,
    on: () => undefined,
  };
  return { ...built, config, connect, events, mints: () => mints, waitingPool };
}

describe('iamPrismaMariaDb', () => {
  it('returns a PrismaMariaDb for provider mysql', () => {
    const adapter = iamPrismaMariaDb({
      host: HOST,
      user: 'app',
      credentials: { accessKeyId: 'A', secretAccessKey: 'B' },
    });
    expect(adapter).toBeInstanceOf(PrismaMariaDb);
    expect(adapter.provider).toBe('mysql');
  });

  it('passes pool settings through and adds the stream hook, verified TLS and no prepared-statement cache', () => {
    const { config } = setup({
      connectionLimit: 4,
      minimumIdle: 2,
      idleTimeout: 30,
      acquireTimeout: 2_000,
      connectTimeout: 3_000,
    });
    expect(config).toMatchObject({
      host: HOST,
      port: 3306,
      user: 'app',
      database: 'app',
      connectionLimit: 4,
      minimumIdle: 2,
      idleTimeout: 30,
      acquireTimeout: 2_000,
      connectTimeout: 3_000,
      prepareCacheLength: 0,
    });
    expect(typeof config.stream).toBe('function');
    expect(config.ssl).toMatchObject({ rejectUnauthorized: true, servername: HOST });
    expect(config).not.toHaveProperty('password');
    expect(config).not.toHaveProperty('sign');
    expect(setup({ prepareCacheLength: 64 }).config.prepareCacheLength).toBe(64);
  });

  it('reads a mysql:// or mariadb:// uri, and refuses passwords, packet dumps and URL parameters', () => {
    expect(setup({ uri: `mariadb://app@${HOST}:3307/orders` }).config).toMatchObject({
      host: HOST,
      port: 3307,
      user: 'app',
    });
    const code = (options: Record<string, unknown>) => {
      try {
        buildMariaDbConfig({ host: HOST, user: 'app', ...options } as IamPrismaMariaDbOptions);
        return undefined;
      } catch (err) {
        return (err as RdsIamError).code;
      }
    };
    expect(code({ password: 'x' })).toBe('ERR_CONFLICTING_OPTIONS');
    expect(code({ debug: true })).toBe('ERR_CONFLICTING_OPTIONS');
    expect(code({ stream: 'socket' })).toBe('ERR_INVALID_OPTION');
    expect(code({ uri: `mysql://app:pw@${HOST}/db` })).toBe('ERR_CONFLICTING_OPTIONS');
    expect(code({ uri: `mysql://app@${HOST}/db?ssl=false` })).toBe('ERR_INVALID_OPTION');
    expect(code({ ssl: false })).toBe('ERR_TLS_REQUIRED');
    expect(code({ host: '127.0.0.1', ssl: false })).toBeUndefined();
  });

  it('drops the network logger (packet dumps carry the token) and keeps the others', () => {
    const calls: string[] = [];
    const fn = (msg: unknown) => calls.push(String(msg));
    const object = setup({ logger: { network: fn, query: fn, error: fn, warning: fn } }).config
      .logger;
    expect(object).toEqual({ query: fn, error: fn, warning: fn });
    const fromFunction = setup({ logger: fn as never }).config.logger;
    expect(fromFunction).toEqual({ query: fn, error: fn, warning: fn });
  });
});

describe('the per-connection stream hook', () => {
  it('hands the token out only once TLS verified the server, then never enumerably', async () => {
    const { connect } = setup();
    const { opts, err } = await connect();
    expect(err).toBeNull();
    // Before the handshake: no token.
    expect(opts.password).toBe('');
    // Node calls checkServerIdentity only after the chain verified; the name must match too.
    expect(opts.ssl?.checkServerIdentity(HOST, certFor(HOST))).toBeUndefined();
    expect(opts.password).toBe(TOKEN);
    expect(Object.keys(opts)).not.toContain('password');
    expect(JSON.stringify(opts)).not.toContain(TOKEN);
    expect(inspect(opts, { depth: 5 })).not.toContain(TOKEN);
  });

  it('withholds the token from a server whose certificate names another host, and fails waiting requests with ERR_TLS_VERIFY', async () => {
    const { connect, gate, waitingPool } = setup();
    const waiting = gate.acquire(waitingPool).then(
      () => undefined,
      (e: unknown) => e,
    );
    const { opts } = await connect();
    expect(opts.ssl?.checkServerIdentity(HOST, certFor('evil.example.com'))).toBeInstanceOf(Error);
    expect(opts.password).toBe('');
    // The connector reports the failed login (the server refused the empty password).
    opts.logger?.error?.(Object.assign(new Error('Access denied'), { errno: 1045 }));
    const err = (await waiting) as RdsIamError;
    expect(err).toBeInstanceOf(RdsIamError);
    expect(err.code).toBe('ERR_TLS_VERIFY');
    expect(err.message).not.toContain(TOKEN);
  });

  it("reports the connector's own certificate errors as ERR_TLS_VERIFY", async () => {
    const { connect, gate, waitingPool } = setup();
    const waiting = gate.acquire(waitingPool).catch((e: unknown) => e);
    const { opts } = await connect();
    opts.logger?.error?.(
      Object.assign(new Error('self-signed certificate'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }),
    );
    expect(await waiting).toMatchObject({ code: 'ERR_TLS_VERIFY' });
  });

  it('a failed mint fails the connection and the waiting requests with the RdsIamError, a fresh copy each time', async () => {
    const { connect, gate, waitingPool } = setup({
      sign: () => {
        throw new Error('signer down');
      },
    });
    const waiting = gate.acquire(waitingPool).catch((e: unknown) => e);
    const first = await connect();
    const second = await connect();
    expect(first.err).toBeInstanceOf(RdsIamError);
    expect(first.err).toMatchObject({ code: 'ERR_SIGNING' });
    expect(first.err?.message).toContain('signer down');
    expect(second.err).not.toBe(first.err);
    expect(await waiting).toMatchObject({ code: 'ERR_SIGNING' });
    expect(first.opts).not.toHaveProperty('password');
  });

  it('fails fast before waiting when the pool must open a connection and no token can be had', async () => {
    const { gate } = setup({
      sign: () => {
        throw new Error('signer down');
      },
    });
    const emptyPool = {
      getConnection: () => new Promise<never>(() => {}),
      end: async () => {},
      idleConnections: () => 0,
      totalConnections: () => 0,
      on: () => undefined,
    };
    await expect(gate.acquire(emptyPool)).rejects.toMatchObject({ code: 'ERR_SIGNING' });
  });

  it('drops a rejected token so the next connection mints; a second rejection in a row fails waiting requests', async () => {
    const { connect, gate, waitingPool, events, mints } = setup();
    const rejected = Object.assign(new Error("Access denied for user 'app'"), {
      errno: 1045,
      sqlState: '28000',
    });
    const waiting = gate.acquire(waitingPool).catch((e: unknown) => e);
    const first = await connect();
    first.opts.ssl?.checkServerIdentity(HOST, certFor(HOST));
    expect(first.opts.password).toBe(TOKEN);
    first.opts.logger?.error?.(rejected);
    expect(events.filter((e) => e.type === 'invalidated')).toHaveLength(1);

    const second = await connect();
    expect(mints()).toBe(2);
    second.opts.ssl?.checkServerIdentity(HOST, certFor(HOST));
    void second.opts.password;
    second.opts.logger?.error?.(rejected);
    const err = (await waiting) as RdsIamError;
    expect(err.code).toBe('ERR_AUTH_REJECTED');
    expect(err.message).not.toContain(TOKEN);
    expect(JSON.stringify(events)).not.toContain(TOKEN);
  });

  it('runs a stream function of your own after minting, on the same per-connection options', async () => {
    const seen: unknown[] = [];
    const socket = { fake: 'socket' };
    const { config } = setup({
      stream: function (this: Opts, cb: (err?: Error | null, s?: unknown) => void) {
        seen.push(this);
        cb(null, socket);
      } as never,
    });
    const opts: Opts = { ...config };
    const result = await new Promise<unknown>((resolve) => {
      (config.stream as Stream).call(opts, (_e, s) => resolve(s));
    });
    expect(seen).toEqual([opts]);
    expect(result).toBe(socket);
  });

  it("keeps the user's error logger", async () => {
    const logged: unknown[] = [];
    const { connect } = setup({ logger: { error: (e: unknown) => logged.push(e) } as never });
    const { opts } = await connect();
    const err = new Error('query failed');
    opts.logger?.error?.(err);
    expect(logged).toEqual([err]);
  });
});

describe('withWorkingMinimumIdle', () => {
  it('turns minimumIdle 0 into 1 on mariadb 3.4 only', () => {
    expect(withWorkingMinimumIdle({ minimumIdle: 0 }, '3.4.5')).toEqual({ minimumIdle: 1 });
    expect(withWorkingMinimumIdle({ minimumIdle: 0 }, '3.5.4')).toEqual({ minimumIdle: 0 });
    expect(withWorkingMinimumIdle({ minimumIdle: 3 }, '3.4.5')).toEqual({ minimumIdle: 3 });
    expect(withWorkingMinimumIdle({}, '3.4.5')).toEqual({});
  });
});
