import { randomBytes } from 'node:crypto';
import { Capability, frame, parseErrPacket } from '@rds-iam/wire';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeResources, waitFor } from './helpers.js';
import {
  createMysqlUser,
  dropMysqlUser,
  type MysqlFrontEnd,
  mysql2Options,
  mysqlAvailable,
  RAW_CLIENT_CAPABILITIES,
  RawMysqlClient,
  startMysqlFrontEnd,
} from './mysql-context.js';

/*
 * Hostile and broken clients against the MySQL front end. After each scenario: the front end has
 * closed every socket it owned (client and upstream) and cleared its timers, and a normal login
 * still works.
 */

const available = await mysqlAvailable();

const HANDSHAKE_TIMEOUT_MS = 3_000;
const MAX_PACKET = 64 * 1024;

describe.skipIf(!available)('MySQL front end: hostile clients', () => {
  let fe: MysqlFrontEnd;
  let user: string;

  beforeAll(async () => {
    fe = await startMysqlFrontEnd({
      handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
      maxHandshakePacketBytes: MAX_PACKET,
    });
    user = await createMysqlUser('u_hostile');
  });
  afterAll(async () => {
    await fe?.close();
    if (user) await dropMysqlUser(user);
  });

  /** Sockets (client, upstream, test side) and timers: what a leak would show up in. */
  const leakable = (): { sockets: number; timers: number } => {
    const r = activeResources();
    return { sockets: r.TCPSocketWrap ?? 0, timers: r.Timeout ?? 0 };
  };

  /** The counts once they stop moving (sockets of earlier tests may still be closing). */
  const settled = async (): Promise<{ sockets: number; timers: number }> => {
    let last = leakable();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const now = leakable();
      if (now.sockets === last.sockets && now.timers === last.timers) return now;
      last = now;
    }
    return last;
  };

  /**
   * Runs `scenario`, then checks: the front end holds no connection, a normal mysql2 login works,
   * and sockets and timers are back to where they were.
   */
  async function survive(scenario: () => Promise<void>): Promise<void> {
    const before = await settled();
    await scenario();
    await waitFor(() => fe.openSockets() === 0, 5_000);
    const c = await mysql.createConnection(mysql2Options(fe, user, await fe.token(user)));
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT 1 + 1 AS n');
    expect(rows[0]?.n).toBe(2);
    await c.end();
    await waitFor(() => {
      const now = leakable();
      return now.sockets <= before.sockets && now.timers <= before.timers;
    }, 1_000).catch(() => {
      throw new Error(
        `leak: before ${JSON.stringify(before)}, after ${JSON.stringify(leakable())}`,
      );
    });
  }

  /** Resolves with ms elapsed when the front end closes the connection. */
  const closedAfter = async (c: RawMysqlClient, since: number): Promise<number> => {
    await c.closed;
    return Date.now() - since;
  };

  it('HTTP garbage after the greeting: dropped at once (absurd length)', () =>
    survive(async () => {
      const c = await RawMysqlClient.connect(fe);
      await c.read();
      const t = Date.now();
      c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(await closedAfter(c, t)).toBeLessThan(HANDSHAKE_TIMEOUT_MS / 2);
    }));

  it('garbage bytes in a well-framed packet: ERR 1043 Bad handshake, then close', () =>
    survive(async () => {
      const c = await RawMysqlClient.connect(fe);
      await c.read();
      // Fixed garbage, not random: random flags can spell a valid handshake now and then. No
      // CLIENT_PROTOCOL_41 bit (0x200) and no NUL, so no user name can be read from it.
      c.send(1, Buffer.alloc(40, 0x81));
      const err = await c.read();
      expect(err.seq).toBe(2);
      expect(parseErrPacket(err.payload)).toMatchObject({ errno: 1043, sqlState: '08S01' });
      await c.closed;
    }));

  it('length 0xffffff: dropped without buffering 16 MB', () =>
    survive(async () => {
      const c = await RawMysqlClient.connect(fe);
      await c.read();
      const t = Date.now();
      c.socket.write(Buffer.from([0xff, 0xff, 0xff, 0x01, 0x00]));
      expect(await closedAfter(c, t)).toBeLessThan(HANDSHAKE_TIMEOUT_MS / 2);
    }));

  it('one byte over maxHandshakePacketBytes: dropped; the token packet too', () =>
    survive(async () => {
      const before = fe.logins.length;
      const c = await RawMysqlClient.connect(fe);
      await c.read();
      c.socket.write(
        Buffer.from([
          (MAX_PACKET + 1) & 0xff,
          ((MAX_PACKET + 1) >> 8) & 0xff,
          (MAX_PACKET + 1) >> 16,
          1,
        ]),
      );
      await c.closed;

      fe.settings.requireTls = false;
      const d = await RawMysqlClient.connect(fe);
      fe.settings.requireTls = true;
      await d.read();
      d.send(1, RawMysqlClient.response(user));
      await d.read();
      d.socket.write(frame(3, Buffer.alloc(MAX_PACKET + 1, 0x41)));
      await d.closed;
      expect(fe.logins.length).toBe(before); // no verdict on what never arrived
    }));

  it('truncated packet, then FIN: closed, no verdict', () =>
    survive(async () => {
      const before = fe.logins.length;
      const c = await RawMysqlClient.connect(fe);
      await c.read();
      const whole = frame(1, RawMysqlClient.response(user));
      c.socket.end(whole.subarray(0, 20));
      await c.closed;
      expect(fe.logins.length).toBe(before);
    }));

  it('a stalled client is closed by the handshake timeout (nothing sent, half a header, after SSLRequest)', () =>
    survive(async () => {
      fe.settings.handshakeTimeoutMs = 300;
      try {
        const silent = await RawMysqlClient.connect(fe);
        const half = await RawMysqlClient.connect(fe);
        const afterSsl = await RawMysqlClient.connect(fe);
        const t = Date.now();
        await half.read();
        half.socket.write(Buffer.from([0x10, 0x00]));
        await afterSsl.read();
        afterSsl.send(1, RawMysqlClient.sslRequest());
        for (const c of [silent, half, afterSsl]) {
          const ms = await closedAfter(c, t);
          expect(ms).toBeGreaterThanOrEqual(200);
          expect(ms).toBeLessThan(2_000);
        }
      } finally {
        fe.settings.handshakeTimeoutMs = HANDSHAKE_TIMEOUT_MS;
      }
    }));

  it('disconnects mid-handshake: before the greeting, mid-packet, before the token', () =>
    survive(async () => {
      const early = await RawMysqlClient.connect(fe);
      early.destroy(); // likely before upstream has even greeted

      const mid = await RawMysqlClient.connect(fe);
      await mid.read();
      mid.socket.write(frame(1, RawMysqlClient.response(user)).subarray(0, 30));
      await new Promise((r) => setTimeout(r, 20));
      mid.destroy();

      const beforeToken = await RawMysqlClient.connect(fe);
      await beforeToken.read();
      beforeToken.send(1, RawMysqlClient.sslRequest());
      await beforeToken.startTls(fe.caPem);
      beforeToken.send(
        2,
        RawMysqlClient.response(user, { capabilities: RAW_CLIENT_CAPABILITIES | Capability.SSL }),
      );
      await beforeToken.read(); // the auth switch
      beforeToken.destroy();
      await Promise.all([early.closed, mid.closed, beforeToken.closed]);
    }));

  it('disconnects mid-TLS: right after SSLRequest, inside a ClientHello, and non-TLS bytes', () =>
    survive(async () => {
      const a = await RawMysqlClient.connect(fe);
      await a.read();
      a.send(1, RawMysqlClient.sslRequest());
      a.destroy();

      const b = await RawMysqlClient.connect(fe);
      await b.read();
      // SSLRequest and the start of a TLS handshake record (ClientHello, 512 bytes announced) in one write.
      b.socket.write(
        Buffer.concat([
          frame(1, RawMysqlClient.sslRequest()),
          Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]),
          randomBytes(40),
        ]),
      );
      await new Promise((r) => setTimeout(r, 20));
      b.destroy();

      const c = await RawMysqlClient.connect(fe);
      await c.read();
      const t = Date.now();
      c.socket.write(
        Buffer.concat([frame(1, RawMysqlClient.sslRequest()), Buffer.from('not TLS at all\r\n')]),
      );
      expect(await closedAfter(c, t)).toBeLessThan(HANDSHAKE_TIMEOUT_MS / 2);
      await Promise.all([a.closed, b.closed]);
    }));

  it('packets out of order: ERR 1156', () =>
    survive(async () => {
      const c = await RawMysqlClient.connect(fe);
      await c.read();
      c.send(7, RawMysqlClient.response(user));
      const err = await c.read();
      expect(parseErrPacket(err.payload)).toMatchObject({ errno: 1156, sqlState: '08S01' });
      await c.closed;
    }));

  it('a client without pluggable auth: ERR 1251', () =>
    survive(async () => {
      fe.settings.requireTls = false;
      const c = await RawMysqlClient.connect(fe);
      fe.settings.requireTls = true;
      await c.read();
      c.send(
        1,
        RawMysqlClient.response(user, {
          capabilities: RAW_CLIENT_CAPABILITIES & ~Capability.PLUGIN_AUTH,
        }),
      );
      const err = await c.read();
      expect(parseErrPacket(err.payload)).toMatchObject({ errno: 1251 });
      await c.closed;
    }));

  it('a legitimate login written one byte at a time (plain) logs in', () =>
    survive(async () => {
      fe.settings.requireTls = false;
      const c = await RawMysqlClient.connect(fe);
      fe.settings.requireTls = true;
      try {
        await c.read();
        await dribble(c, frame(1, RawMysqlClient.response(user)));
        expect((await c.read()).seq).toBe(2);
        await dribble(c, frame(3, Buffer.from(`${await fe.token(user)}\0`)));
        const ok = await c.read();
        expect(ok.payload[0]).toBe(0);
      } finally {
        c.destroy();
      }
    }));

  it('a legitimate login split into one TLS record per byte logs in', () =>
    survive(async () => {
      const c = await RawMysqlClient.connect(fe);
      try {
        await c.read();
        // SSLRequest split across writes too, before TLS.
        await dribble(c, frame(1, RawMysqlClient.sslRequest()));
        await c.startTls(fe.caPem);
        await dribble(
          c,
          frame(
            2,
            RawMysqlClient.response(user, {
              capabilities: RAW_CLIENT_CAPABILITIES | Capability.SSL,
            }),
          ),
        );
        expect((await c.read()).seq).toBe(3);
        const token = await fe.token(user);
        // Token and an immediately pipelined COM_QUERY in one write: the query reaches upstream.
        c.socket.write(
          Buffer.concat([
            frame(4, Buffer.from(`${token}\0`)),
            frame(0, Buffer.from('\x03SELECT 7')),
          ]),
        );
        const ok = await c.read();
        expect(ok).toMatchObject({ seq: 5 });
        expect(ok.payload[0]).toBe(0);
        const columns = await c.read();
        expect(columns.seq).toBe(1);
        expect(columns.payload[0]).toBe(1);
      } finally {
        c.destroy();
      }
    }));
});

/** Writes `bytes` one byte per write, yielding to the event loop in between. */
async function dribble(c: RawMysqlClient, bytes: Buffer): Promise<void> {
  for (const b of bytes) {
    c.socket.write(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
}
