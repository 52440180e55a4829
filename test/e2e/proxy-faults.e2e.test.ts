import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildHandshakeResponse, Capability, frame, startupMessage } from '@rds-iam/wire';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminQuery,
  createIamUser,
  type Engine,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';
import { assertNoToken, type ProxyUnderTest, proxyFor } from './proxy-support.js';

// The proxy under faults and bad input: silent and garbage clients, an upstream that drops a
// session mid-query, a hung credential source, a token rejected once and twice, a local password,
// and 1,000 connect/disconnect cycles that must leave no handle and no memory behind.

const HANDSHAKE_MS = 300;

/** A plain client of `engine` through the proxy, password-less unless told. */
async function connect(
  engine: Engine,
  port: number,
  database: string | undefined,
  password?: string,
) {
  if (engine === 'postgres') {
    // A user name as every PostgreSQL client sends one; the proxy logs in as the IAM user anyway.
    const c = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'tool',
      database,
      password: password ?? '',
    });
    c.on('error', () => undefined);
    await c.connect();
    return {
      query: async (sql: string) => (await c.query(sql)).rows as Record<string, unknown>[],
      end: () => c.end(),
    };
  }
  const c = await mysql.createConnection({
    host: '127.0.0.1',
    port,
    database,
    password: password ?? '',
  });
  c.on('error', () => undefined);
  return {
    query: async (sql: string) =>
      (await c.query<mysql.RowDataPacket[]>(sql))[0] as Record<string, unknown>[],
    end: () => c.end(),
  };
}

/** Connects raw, optionally sends `bytes`, and resolves with how long the proxy took to close. */
function closedAfter(port: number, bytes?: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('connect', () => bytes && socket.write(bytes));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(performance.now() - started));
  });
}

/**
 * A raw client that sends its login and, right behind it, 200 KB of garbage (more than the proxy
 * buffers for a login), then resolves with what it received after the greeting by the time the
 * proxy closed.
 */
function floodDuringLogin(
  engine: Engine,
  port: number,
  database: string | undefined,
): Promise<Buffer> {
  const flood = Buffer.alloc(200 * 1024, 0x51);
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received: Buffer = Buffer.alloc(0);
    let greeted = engine === 'postgres';
    socket.on('connect', () => {
      if (engine === 'postgres') {
        const params = new Map([['user', 'tool']]);
        if (database !== undefined) params.set('database', database);
        socket.write(Buffer.concat([startupMessage(params), flood]));
      }
    });
    socket.on('data', (chunk: Buffer) => {
      if (greeted) {
        received = Buffer.concat([received, chunk]);
        return;
      }
      // MySQL: the greeting (one packet) first, then the login behind which the flood comes.
      greeted = true;
      const response = buildHandshakeResponse({
        capabilities:
          Capability.LONG_PASSWORD |
          Capability.PROTOCOL_41 |
          Capability.SECURE_CONNECTION |
          Capability.PLUGIN_AUTH |
          (database === undefined ? 0 : Capability.CONNECT_WITH_DB),
        mariaDbCapabilities: 0,
        maxPacketSize: 1 << 24,
        charset: 45,
        user: 'tool',
        authData: Buffer.alloc(0),
        database: database === undefined ? undefined : Buffer.from(database),
        authPlugin: 'mysql_native_password',
        connectAttrs: undefined,
      });
      received = chunk.subarray(4 + chunk.readUIntLE(0, 3));
      socket.write(Buffer.concat([frame(1, response), flood]));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received));
  });
}

function sockets(): number {
  const info = process.getActiveResourcesInfo();
  return info.filter((r) => r === 'TCPSocketWrap' || r === 'TLSWrap').length;
}

async function settledSockets(): Promise<number> {
  let last = sockets();
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 25));
    const now = sockets();
    if (now === last) return now;
    last = now;
  }
  return last;
}

for (const engine of ['postgres', 'mysql'] as const) {
  describe.runIf(hasDatabase(engine))(`proxy faults: ${engine}`, () => {
    let iam: IamEndpoint;
    let app: IamUser;
    let p: ProxyUnderTest;
    let port: number;
    beforeAll(async () => {
      iam = await startIamEndpoint(engine);
      app = await createIamUser(engine, { database: true });
      p = await proxyFor(iam, app.user, {
        database: app.database,
        handshakeTimeoutMs: HANDSHAKE_MS,
      });
      port = (p.proxy.address as { port: number }).port;
    });
    afterAll(async () => {
      await p?.proxy.close();
      await iam?.stop();
    });

    it('a silent client and a garbage client are dropped within the handshake timeout; the proxy serves on', async () => {
      const before = p.proxy.counters().rejectionsByReason['bad-handshake'] ?? 0;
      const silent = await closedAfter(port);
      expect(silent).toBeGreaterThanOrEqual(HANDSHAKE_MS - 20);
      expect(silent).toBeLessThan(HANDSHAKE_MS * 10);
      const garbage = await closedAfter(port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      expect(garbage).toBeLessThan(HANDSHAKE_MS * 10);
      const c = await connect(engine, port, app.database);
      expect(await c.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      await c.end();
      expect(p.proxy.counters().rejectionsByReason['bad-handshake']).toBe(before + 2);
    });

    it('an upstream that drops one session mid-query: that client gets an error, the others go on', async () => {
      const victim = await connect(engine, port, app.database);
      const bystander = await connect(engine, port, app.database);
      const [me] = await victim.query(
        engine === 'postgres' ? 'SELECT pg_backend_pid() AS id' : 'SELECT connection_id() AS id',
      );
      // Settled into a value at once: it fails while the kill is still being sent.
      const slow = victim
        .query(engine === 'postgres' ? 'SELECT pg_sleep(20)' : 'SELECT SLEEP(20)')
        .then(
          () => 'finished',
          (e: unknown) => e,
        );
      await new Promise((r) => setTimeout(r, 200));
      const started = performance.now();
      await adminQuery(
        iam.database,
        engine === 'postgres'
          ? `SELECT pg_terminate_backend(${me?.id})`
          : `KILL CONNECTION ${me?.id}`,
      );
      expect(await slow).toBeInstanceOf(Error);
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(await bystander.query('SELECT 2 AS two')).toEqual([{ two: 2 }]);
      await bystander.end();
      await victim.end().catch(() => undefined);
      const fresh = await connect(engine, port, app.database);
      expect(await fresh.query('SELECT 3 AS three')).toEqual([{ three: 3 }]);
      await fresh.end();
    });

    it('a token rejected once is retried with a fresh one; rejected twice, the client is told why', async () => {
      const before = p.proxy.counters();
      iam.emulator.rejectNextLogins(1);
      const c = await connect(engine, port, app.database);
      await c.end();
      const after = p.proxy.counters();
      expect(after.retries).toBe(before.retries + 1);
      expect(after.tokensMinted).toBe(before.tokensMinted + 1);

      iam.emulator.rejectNextLogins(2);
      const err = (await connect(engine, port, app.database).catch((e: unknown) => e)) as {
        code?: string;
        errno?: number;
        message: string;
      };
      if (engine === 'postgres') expect(err.code).toBe('28P01');
      else expect(err.errno).toBe(1045);
      expect(err.message).toMatch(/rejected the IAM token for .* twice .*rds-db:connect/);
      assertNoToken(err.message);
      expect(p.proxy.counters().rejectionsByReason['token-rejected']).toBe(1);
    });

    it('a client that floods during the upstream login is dropped, not relayed mid-stream', async () => {
      const before = p.proxy.counters();
      // Nothing after the greeting: no AuthenticationOk / OK, no relayed session.
      expect(await floodDuringLogin(engine, port, app.database)).toEqual(Buffer.alloc(0));
      const after = p.proxy.counters();
      expect(after.logins).toBe(before.logins);
      expect(after.rejectionsByReason['bad-handshake']).toBe(
        (before.rejectionsByReason['bad-handshake'] ?? 0) + 1,
      );
    });

    it('a hung credential source: the client gets a clear error within credentialsTimeoutMs', async () => {
      const hung = await proxyFor(iam, app.user, {
        database: app.database,
        credentials: () => new Promise(() => {}),
        credentialsTimeoutMs: 300,
      });
      try {
        const hungPort = (hung.proxy.address as { port: number }).port;
        const started = performance.now();
        const err = (await connect(engine, hungPort, app.database).catch((e: unknown) => e)) as {
          message: string;
          code?: string;
          errno?: number;
        };
        expect(performance.now() - started).toBeLessThan(5_000);
        expect(err.message).toMatch(
          /no IAM token: .*did not answer within 300 ms \(credentialsTimeoutMs\)/,
        );
        if (engine === 'postgres') expect(err.code).toBe('08001');
        else expect(err.errno).toBe(2003);
        expect(hung.proxy.counters().rejectionsByReason).toEqual({ credentials: 1 });
      } finally {
        await hung.proxy.close();
      }
    });

    it('a local password: the wrong one is refused, the right one logs in', async () => {
      const locked = await proxyFor(iam, app.user, {
        database: app.database,
        localPassword: 'local pw',
      });
      try {
        const lockedPort = (locked.proxy.address as { port: number }).port;
        const err = (await connect(engine, lockedPort, app.database, 'wrong').catch(
          (e: unknown) => e,
        )) as {
          code?: string;
          errno?: number;
        };
        if (engine === 'postgres') expect(err.code).toBe('28P01');
        else expect(err.errno).toBe(1045);
        const c = await connect(engine, lockedPort, app.database, 'local pw');
        expect(await c.query('SELECT 4 AS four')).toEqual([{ four: 4 }]);
        await c.end();
        expect(locked.proxy.counters()).toMatchObject({
          logins: 1,
          rejectionsByReason: { 'local-password': 1 },
        });
      } finally {
        await locked.proxy.close();
      }
    });

    it('1,000 connect/disconnect cycles leave no open handles and flat memory', async () => {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const baseline = await settledSockets();
      const heap = (): number => {
        gc();
        gc();
        return process.memoryUsage().heapUsed;
      };
      const cycle = async (): Promise<void> => {
        const c = await connect(engine, port, app.database);
        await c.end();
      };
      // Four clients at a time, as a tool's small pool would: 1,000 cycles in all.
      const cycles = async (n: number): Promise<void> => {
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            for (let i = 0; i < n / 4; i++) await cycle();
          }),
        );
      };
      await cycles(200);
      const warm = heap();
      await cycles(800);
      const after = heap();
      expect(await settledSockets()).toBe(baseline);
      expect(p.proxy.counters().connectionsOpen).toBe(0);
      // Flat: what 800 more cycles left behind is noise, not a per-connection leak.
      expect(after - warm).toBeLessThan(8 * 1024 * 1024);
    }, 120_000);
  });
}
