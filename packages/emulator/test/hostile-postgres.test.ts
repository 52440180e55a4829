import net from 'node:net';
import tls from 'node:tls';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../src/index.js';
import { DEMO_CREDENTIALS } from '../src/verify.js';
import {
  activeResources,
  createRole,
  dropRole,
  PG_UPSTREAM,
  sdkToken,
  trackTimers,
  waitFor,
} from './helpers.js';

const UPSTREAM = `postgres://${PG_UPSTREAM.host}:${PG_UPSTREAM.port}`;
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const GSSENC_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function startup(params: Record<string, string>, version = 3 << 16): Buffer {
  const body = Buffer.concat([
    int32(version),
    ...Object.entries(params).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)),
    Buffer.from([0]),
  ]);
  return Buffer.concat([int32(body.length + 4), body]);
}

function password(token: string): Buffer {
  const body = Buffer.from(`${token}\0`);
  return Buffer.concat([Buffer.from('p'), int32(body.length + 4), body]);
}

/** A raw client socket that records what it receives and when it closes. */
interface Raw {
  socket: net.Socket | tls.TLSSocket;
  received(): Buffer;
  closed: Promise<void>;
  waitFor(bytes: number): Promise<Buffer>;
}

function watch(socket: net.Socket | tls.TLSSocket): Raw {
  let data = Buffer.alloc(0);
  const waiters: Array<() => void> = [];
  socket.on('data', (d: Buffer) => {
    data = Buffer.concat([data, d]);
    for (const w of waiters.splice(0)) w();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    received: () => data,
    closed,
    waitFor: async (bytes) => {
      const deadline = Date.now() + 5_000;
      while (data.length < bytes) {
        if (Date.now() > deadline) throw new Error(`got ${data.length} bytes, wanted ${bytes}`);
        await Promise.race([
          new Promise<void>((r) => waiters.push(r)),
          closed.then(() => {
            if (data.length < bytes) throw new Error(`closed after ${data.length} bytes`);
          }),
        ]);
      }
      return data;
    },
  };
}

async function raw(emu: Emulator): Promise<Raw> {
  const socket = net.connect({ host: emu.host, port: emu.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return watch(socket);
}

async function rawTls(emu: Emulator): Promise<Raw> {
  const r = await raw(emu);
  r.socket.write(SSL_REQUEST);
  await r.waitFor(1);
  const secure = tls.connect({
    socket: r.socket as net.Socket,
    ca: emu.caPem,
    servername: 'localhost',
  });
  const w = watch(secure);
  await new Promise<void>((res, rej) => {
    secure.once('secureConnect', () => res());
    secure.once('error', rej);
  });
  return w;
}

async function closedWithin(r: Raw, ms: number): Promise<number> {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      r.closed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('still open')), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  return Date.now() - start;
}

describe('hostile PostgreSQL clients', () => {
  let emu: Emulator;
  let plain: Emulator;
  let role: string;

  beforeAll(async () => {
    [emu, plain, role] = await Promise.all([
      startEmulator({ engine: 'postgres', upstream: UPSTREAM, handshakeTimeoutMs: 300 }),
      startEmulator({
        engine: 'postgres',
        upstream: UPSTREAM,
        requireTls: false,
        handshakeTimeoutMs: 2_000,
      }),
      createRole('emuhostile'),
    ]);
  });
  afterAll(async () => {
    await Promise.all([emu.stop(), plain.stop()]);
    await dropRole(role);
  });

  // After every hostile act, the emulator still serves a normal login and holds no connection.
  afterEach(async () => {
    const token = await sdkToken({ ...emu.endpoint, user: role, credentials: DEMO_CREDENTIALS });
    const c = new pg.Client({
      host: emu.host,
      port: emu.port,
      user: role,
      database: 'test',
      password: token,
      ssl: { ca: emu.caPem },
    });
    await c.connect();
    expect((await c.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n).toBe(1);
    await c.end();
    await waitFor(
      () => emu.counters().connectionsActive === 0 && plain.counters().connectionsActive === 0,
    );
  });

  it('garbage bytes', async () => {
    const r = await raw(emu);
    r.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await closedWithin(r, 1_000);
    const r2 = await raw(emu);
    r2.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6]));
    await closedWithin(r2, 1_000);
    expect(r2.received().length).toBe(0);
  });

  it('absurd, negative and tiny length fields', async () => {
    for (const len of [0x7fffffff, -1, 0, 4, 7, 1 << 20]) {
      const r = await raw(emu);
      r.socket.write(Buffer.concat([int32(len), int32(3 << 16)]));
      await closedWithin(r, 1_000);
    }
  });

  it('absurd length in the password message', async () => {
    const r = await raw(plain);
    r.socket.write(startup({ user: role, database: 'test' }));
    await r.waitFor(9); // AuthenticationCleartextPassword
    r.socket.write(Buffer.concat([Buffer.from('p'), int32(0x7fffffff), Buffer.from('abc')]));
    await closedWithin(r, 1_000);
    const r2 = await raw(plain);
    r2.socket.write(startup({ user: role }));
    await r2.waitFor(9);
    r2.socket.write(Buffer.concat([Buffer.from('Q'), int32(9), Buffer.from('hello')]));
    await closedWithin(r2, 1_000);
  });

  it('truncated packets, then a half-close', async () => {
    const r = await raw(emu);
    const full = startup({ user: role, database: 'test' });
    r.socket.end(full.subarray(0, full.length - 3));
    await closedWithin(r, 1_000);
  });

  it('a stalled client is dropped after handshakeTimeoutMs', async () => {
    const silent = await raw(emu);
    const took = await closedWithin(silent, 2_000);
    expect(took).toBeGreaterThanOrEqual(250);
    // Stalled after asking for TLS and completing it.
    const r = await raw(emu);
    r.socket.write(SSL_REQUEST);
    await r.waitFor(1);
    const secure = watch(
      tls.connect({ socket: r.socket as net.Socket, ca: emu.caPem, servername: 'localhost' }),
    );
    await closedWithin(secure, 2_000);
    // Stalled in the password phase, on TLS.
    const p = await rawTls(emu);
    p.socket.write(startup({ user: role }));
    await p.waitFor(9);
    await closedWithin(p, 2_000);
  });

  it('disconnect mid-handshake and mid-TLS', async () => {
    const r = await raw(plain);
    r.socket.write(startup({ user: role }));
    await r.waitFor(9);
    r.socket.destroy();
    const t = await raw(emu);
    t.socket.write(SSL_REQUEST);
    await t.waitFor(1);
    expect(t.received().toString()).toBe('S');
    // The first bytes of a ClientHello, then gone.
    t.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]));
    await new Promise((res) => setTimeout(res, 20));
    t.socket.destroy();
    // A full TLS handshake, then gone before the startup message.
    const u = await raw(emu);
    u.socket.write(SSL_REQUEST);
    await u.waitFor(1);
    const secure = tls.connect({
      socket: u.socket as net.Socket,
      ca: emu.caPem,
      servername: 'localhost',
    });
    await new Promise<void>((res) => secure.once('secureConnect', () => res()));
    secure.destroy();
    // A TLS handshake the client aborts (it does not trust the certificate).
    const v = await raw(emu);
    v.socket.write(SSL_REQUEST);
    await v.waitFor(1);
    const untrusted = tls.connect({ socket: v.socket as net.Socket, servername: 'localhost' });
    await new Promise<void>((res) => untrusted.once('error', () => res()));
    untrusted.destroy();
  });

  it('data injected after SSLRequest (CVE-2021-23214) drops the connection', async () => {
    const r = await raw(emu);
    r.socket.write(Buffer.concat([SSL_REQUEST, startup({ user: role })]));
    await closedWithin(r, 1_000);
    expect(r.received().length).toBe(0);
  });

  it('a handshake split into 1-byte writes still works', async () => {
    const token = await sdkToken({ ...plain.endpoint, user: role, credentials: DEMO_CREDENTIALS });
    const r = await raw(plain);
    (r.socket as net.Socket).setNoDelay(true);
    const bytes = startup({ user: role, database: 'test' });
    for (const b of bytes) {
      r.socket.write(Buffer.from([b]));
      await new Promise((res) => setImmediate(res));
    }
    await r.waitFor(9);
    const pw = password(token);
    for (let i = 0; i < pw.length; i += 7) {
      r.socket.write(pw.subarray(i, i + 7));
      await new Promise((res) => setImmediate(res));
    }
    const got = await r.waitFor(9 + 9);
    expect(got.subarray(9, 18)).toEqual(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0])); // AuthenticationOk
    r.socket.destroy();
  });

  it('GSSENCRequest is answered N, then SSLRequest S; too many negotiations drop', async () => {
    const r = await raw(emu);
    r.socket.write(GSSENC_REQUEST);
    await r.waitFor(1);
    r.socket.write(SSL_REQUEST);
    await r.waitFor(2);
    expect(r.received().toString()).toBe('NS');
    r.socket.destroy();
    const f = await raw(emu);
    f.socket.write(Buffer.concat(Array.from({ length: 10 }, () => GSSENC_REQUEST)));
    await closedWithin(f, 1_000);
  });

  it('direct TLS without SSLRequest (ALPN postgresql)', async () => {
    const secure = tls.connect({
      host: emu.host,
      port: emu.port,
      ca: emu.caPem,
      servername: 'localhost',
      ALPNProtocols: ['postgresql'],
    });
    const r = watch(secure);
    await new Promise<void>((res) => secure.once('secureConnect', () => res()));
    expect(secure.alpnProtocol).toBe('postgresql');
    secure.write(startup({ user: role, database: 'test' }));
    const got = await r.waitFor(9);
    expect(got.subarray(0, 9)).toEqual(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
    secure.destroy();
  });

  it('unsupported protocol versions and missing user get an ErrorResponse', async () => {
    const r = await raw(plain);
    r.socket.write(startup({ user: role }, 2 << 16));
    await closedWithin(r, 1_000);
    expect(r.received().toString('latin1')).toMatch(
      /^E.*0A000.*unsupported frontend protocol 2\.0/s,
    );
    const n = await raw(plain);
    n.socket.write(startup({ database: 'test' }));
    await closedWithin(n, 1_000);
    expect(n.received().toString('latin1')).toMatch(/28000.*no PostgreSQL user name/s);
  });

  it('protocol 3.2 and _pq_ options are negotiated down to 3.0', async () => {
    const r = await raw(plain);
    r.socket.write(startup({ user: role, '_pq_.x': '1' }, (3 << 16) | 2));
    const got = await r.waitFor(1);
    expect(String.fromCharCode(got[0] ?? 0)).toBe('v');
    r.socket.destroy();
  });

  it('a bogus CancelRequest is forwarded and the connection closed', async () => {
    const r = await raw(emu);
    r.socket.write(Buffer.concat([int32(16), int32(80877102), int32(12345), int32(67890)]));
    await closedWithin(r, 2_000);
    expect(r.received().length).toBe(0);
  });

  it('a password that is not a token, and an empty password', async () => {
    for (const pw of ['', 'x'.repeat(60_000)]) {
      const r = await raw(plain);
      r.socket.write(startup({ user: role }));
      await r.waitFor(9);
      r.socket.write(password(pw));
      await closedWithin(r, 1_000);
      expect(r.received().toString('latin1')).toMatch(/28P01.*PAM authentication failed/s);
    }
  });
});

describe('stop()', () => {
  it('destroys live sessions and handshakes and leaves no handles behind', async () => {
    const role = await createRole('emustop');
    try {
      await new Promise((r) => setTimeout(r, 50));
      const before = activeResources();
      const timers = trackTimers();
      const emu = await startEmulator({ engine: 'postgres', upstream: UPSTREAM });
      const token = await sdkToken({ ...emu.endpoint, user: role, credentials: DEMO_CREDENTIALS });
      const live = new pg.Client({
        host: emu.host,
        port: emu.port,
        user: role,
        database: 'test',
        password: token,
        ssl: { ca: emu.caPem },
      });
      live.on('error', () => undefined);
      await live.connect();
      const liveEnded = new Promise<void>((r) => live.once('end', () => r()));
      const stalled = await raw(emu);
      const midTls = await raw(emu);
      midTls.socket.write(SSL_REQUEST);
      await midTls.waitFor(1);
      expect(emu.counters().connectionsActive).toBe(3);

      await emu.stop();
      expect(emu.counters().connectionsActive).toBe(0);
      await Promise.all([liveEnded, stalled.closed, midTls.closed]);
      await emu.stop(); // idempotent
      await new Promise((r) => setTimeout(r, 50));
      const after = activeResources();
      for (const kind of ['TCPSocketWrap', 'TCPServerWrap', 'TLSWrap']) {
        expect({ kind, n: after[kind] ?? 0 }).toEqual({ kind, n: before[kind] ?? 0 });
      }
      // Timeouts: none of the emulator's pending (pg's and vitest's own come and go).
      expect(timers.pending()).toEqual([]);
      timers.stop();
    } finally {
      await dropRole(role);
    }
  });
});
