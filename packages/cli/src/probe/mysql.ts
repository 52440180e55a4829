import {
  connectTcp,
  type LoginResult,
  ProbeConnection,
  type ProbeOptions,
  type ProbeResult,
} from './conn.js';

// Capability flags (include/mysql_com.h).
const LONG_PASSWORD = 0x1;
const LONG_FLAG = 0x4;
const CONNECT_WITH_DB = 0x8;
const PROTOCOL_41 = 0x200;
const SSL = 0x800;
const TRANSACTIONS = 0x2000;
const SECURE_CONNECTION = 0x8000;
const MULTI_RESULTS = 0x20000;
const PLUGIN_AUTH = 0x80000;

const MAX_PACKET = 0x1000000;
const UTF8MB4_GENERAL_CI = 45;
const CLEARTEXT = 'mysql_clear_password';

interface Packet {
  seq: number;
  payload: Buffer;
}

/**
 * A MySQL / MariaDB login as RDS sees it: TCP, greeting, SSLRequest, TLS verified,
 * HandshakeResponse41 announcing mysql_native_password with an empty response (what the mysql
 * client sends), the switch to mysql_clear_password that RDS asks of IAM users answered with the
 * token, then `SELECT` of the server clock. The token is sent only over a verified TLS connection
 * and only when the server asks for `mysql_clear_password`.
 */
export async function probeMysql(options: ProbeOptions): Promise<ProbeResult> {
  const { socket, result: tcp } = await connectTcp(options.host, options.port, options.timeoutMs);
  const result: ProbeResult = { tcp };
  if (!tcp.ok) return result;
  const conn = new ProbeConnection(socket, options.timeoutMs);
  let phase: 'tls' | 'login' | 'time' = 'tls';
  try {
    const greeting = await readPacket(conn);
    if (greeting.payload[0] === 0xff) {
      const err = parseError(greeting.payload);
      result.tls = {
        ok: false,
        offered: false,
        message: `the server refused the connection before TLS: ${err.errno ? `${err.errno} ` : ''}${err.message}`,
      };
      return result;
    }
    const { serverVersion, capabilities } = parseGreeting(greeting.payload);
    if (!(capabilities & SSL)) {
      result.tls = {
        ok: false,
        offered: false,
        message: `the server (${serverVersion}) does not offer TLS (no CLIENT_SSL in its greeting)`,
      };
      return result;
    }
    let flags =
      LONG_PASSWORD |
      LONG_FLAG |
      PROTOCOL_41 |
      TRANSACTIONS |
      SECURE_CONNECTION |
      MULTI_RESULTS |
      PLUGIN_AUTH |
      SSL;
    if (options.database) flags |= CONNECT_WITH_DB;
    flags &= capabilities | SSL;
    conn.write(
      frame(
        1,
        Buffer.concat([
          uint32(flags),
          uint32(MAX_PACKET),
          Buffer.from([UTF8MB4_GENERAL_CI]),
          Buffer.alloc(23),
        ]),
      ),
    );
    result.tls = await conn.upgrade(options.tls);
    if (!result.tls.ok || options.token === undefined) return result;

    phase = 'login';
    result.login = await login(conn, options, options.token, flags, serverVersion);
    if (result.login.outcome !== 'accepted' && result.login.outcome !== 'no-password')
      return result;

    phase = 'time';
    const sent = Date.now();
    conn.write(
      frame(0, Buffer.concat([Buffer.from([0x03]), Buffer.from('SELECT UNIX_TIMESTAMP(NOW(3))')])),
    );
    const value = await readSingleValue(conn);
    const received = Date.now();
    if (value !== undefined) {
      result.serverTime = {
        serverMs: Math.round(Number(value) * 1000),
        localMs: (sent + received) / 2,
        roundTripMs: received - sent,
      };
    }
    conn.write(frame(0, Buffer.from([0x01])));
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (phase === 'tls') {
      const code = (err as { code?: string }).code;
      result.tls = {
        ok: false,
        offered: true,
        message: text,
        ...(code ? { verifyError: code } : {}),
      };
    } else if (phase === 'login') {
      result.login = { outcome: 'error', error: { message: text } };
    } else {
      result.serverTimeError = text;
    }
  } finally {
    conn.close();
  }
  return result;
}

async function login(
  conn: ProbeConnection,
  options: ProbeOptions,
  token: string,
  flags: number,
  serverVersion: string,
): Promise<LoginResult> {
  const response = Buffer.concat([
    uint32(flags),
    uint32(MAX_PACKET),
    Buffer.from([UTF8MB4_GENERAL_CI]),
    Buffer.alloc(23),
    cstring(options.user),
    Buffer.from([0]), // empty auth response: the server switches IAM users to mysql_clear_password
    ...(options.database && flags & CONNECT_WITH_DB ? [cstring(options.database)] : []),
    cstring('mysql_native_password'),
  ]);
  conn.write(frame(2, response));
  let method: string | undefined;
  for (let round = 0; round < 4; round++) {
    const packet = await readPacket(conn);
    const first = packet.payload[0];
    if (first === 0x00) {
      return {
        outcome: method === CLEARTEXT ? 'accepted' : 'no-password',
        method: method ?? 'mysql_native_password (empty)',
        serverVersion,
      };
    }
    if (first === 0xff) {
      return {
        outcome: 'rejected',
        ...(method ? { method } : {}),
        error: parseError(packet.payload),
        serverVersion,
      };
    }
    if (first === 0xfe && method === undefined) {
      const end = packet.payload.indexOf(0, 1);
      method = packet.payload.subarray(1, end < 0 ? undefined : end).toString('utf8');
      if (method !== CLEARTEXT) return { outcome: 'not-iam', method, serverVersion };
      conn.write(frame(packet.seq + 1, cstring(token)));
      continue;
    }
    if (first === 0x01) {
      return { outcome: 'not-iam', method: method ?? 'caching_sha2_password', serverVersion };
    }
    return {
      outcome: 'error',
      error: { message: `unexpected packet 0x${(first ?? 0).toString(16)} during authentication` },
      serverVersion,
    };
  }
  return { outcome: 'error', error: { message: 'too many authentication rounds' }, serverVersion };
}

async function readSingleValue(conn: ProbeConnection): Promise<string | undefined> {
  const head = await readPacket(conn);
  if (head.payload[0] === 0xff) throw new Error(parseError(head.payload).message);
  if (head.payload[0] === 0x00) return undefined;
  const [columns] = lenenc(head.payload, 0);
  for (let i = 0; i < columns; i++) await readPacket(conn);
  await readPacket(conn); // EOF after the column definitions (CLIENT_DEPRECATE_EOF is not set)
  let value: string | undefined;
  for (;;) {
    const row = await readPacket(conn);
    const first = row.payload[0];
    if (first === 0xfe && row.payload.length < 9) return value;
    if (first === 0xff) throw new Error(parseError(row.payload).message);
    if (value === undefined && first !== 0xfb) {
      const [length, offset] = lenenc(row.payload, 0);
      value = row.payload.subarray(offset, offset + length).toString('utf8');
    }
  }
}

function parseGreeting(payload: Buffer): { serverVersion: string; capabilities: number } {
  if (payload[0] !== 10)
    throw new Error(`not a MySQL greeting (protocol ${payload[0]}): is this a MySQL server?`);
  const versionEnd = payload.indexOf(0, 1);
  if (versionEnd < 0) throw new Error('malformed MySQL greeting');
  const serverVersion = payload.subarray(1, versionEnd).toString('utf8');
  let offset = versionEnd + 1 + 4 + 8 + 1;
  const low = payload.readUInt16LE(offset);
  offset += 2;
  const high = payload.length >= offset + 5 ? payload.readUInt16LE(offset + 3) : 0;
  return { serverVersion, capabilities: (low | (high << 16)) >>> 0 };
}

function parseError(payload: Buffer): { errno: number; sqlState?: string; message: string } {
  const errno = payload.length >= 3 ? payload.readUInt16LE(1) : 0;
  if (payload[3] === 0x23) {
    return {
      errno,
      sqlState: payload.subarray(4, 9).toString('latin1'),
      message: payload.subarray(9).toString('utf8'),
    };
  }
  return { errno, message: payload.subarray(3).toString('utf8') };
}

async function readPacket(conn: ProbeConnection): Promise<Packet> {
  const header = await conn.read(4);
  const length = (header[0] ?? 0) | ((header[1] ?? 0) << 8) | ((header[2] ?? 0) << 16);
  if (length > 1 << 20)
    throw new Error(`oversized packet (${length} bytes): is this a MySQL server?`);
  return { seq: header[3] ?? 0, payload: await conn.read(length) };
}

function lenenc(buffer: Buffer, offset: number): [number, number] {
  const first = buffer[offset] ?? 0;
  if (first < 0xfb) return [first, offset + 1];
  if (first === 0xfc) return [buffer.readUInt16LE(offset + 1), offset + 3];
  if (first === 0xfd) return [buffer.readUIntLE(offset + 1, 3), offset + 4];
  return [Number(buffer.readBigUInt64LE(offset + 1)), offset + 9];
}

function frame(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq & 0xff;
  return Buffer.concat([header, payload]);
}

function uint32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
}

function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`, 'utf8');
}
