import type { Duplex } from 'node:stream';
import { FrameReader, FrameReaderError, type Framing } from '../frames.js';

/*
 * MySQL / MariaDB client-server protocol framing and the packets every phase shares: capability
 * flags, 4-byte packet headers, OK / ERR / AuthSwitchRequest, length-encoded integers.
 * References: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 * and https://mariadb.com/kb/en/connection/ (MariaDB's extended capabilities).
 */

/** Capability flags (the low 32 bits; MariaDB's extended ones live in {@link MariaDbCapability}). */
export const Capability = {
  /** `CLIENT_LONG_PASSWORD`; MariaDB calls it `CLIENT_MYSQL` and clears it to flag extended capabilities. */
  LONG_PASSWORD: 1,
  FOUND_ROWS: 1 << 1,
  LONG_FLAG: 1 << 2,
  CONNECT_WITH_DB: 1 << 3,
  NO_SCHEMA: 1 << 4,
  COMPRESS: 1 << 5,
  ODBC: 1 << 6,
  LOCAL_FILES: 1 << 7,
  IGNORE_SPACE: 1 << 8,
  PROTOCOL_41: 1 << 9,
  INTERACTIVE: 1 << 10,
  SSL: 1 << 11,
  IGNORE_SIGPIPE: 1 << 12,
  TRANSACTIONS: 1 << 13,
  RESERVED: 1 << 14,
  SECURE_CONNECTION: 1 << 15,
  MULTI_STATEMENTS: 1 << 16,
  MULTI_RESULTS: 1 << 17,
  PS_MULTI_RESULTS: 1 << 18,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
  CAN_HANDLE_EXPIRED_PASSWORDS: 1 << 22,
  SESSION_TRACK: 1 << 23,
  DEPRECATE_EOF: 1 << 24,
  OPTIONAL_RESULTSET_METADATA: 1 << 25,
  ZSTD_COMPRESSION_ALGORITHM: 1 << 26,
  QUERY_ATTRIBUTES: 1 << 27,
  MULTI_FACTOR_AUTHENTICATION: 1 << 28,
  CAPABILITY_EXTENSION: 1 << 29,
  SSL_VERIFY_SERVER_CERT: 1 << 30,
  // 1 << 31 is negative in a JS int32; keep every flag an unsigned 32-bit number.
  REMEMBER_OPTIONS: 0x8000_0000,
} as const;

/** MariaDB's extended capabilities: the upper 32 of its 64 capability bits. */
export const MariaDbCapability = {
  PROGRESS: 1,
  COM_MULTI: 1 << 1,
  STMT_BULK_OPERATIONS: 1 << 2,
  EXTENDED_METADATA: 1 << 3,
  CACHE_METADATA: 1 << 4,
  BULK_UNIT_RESULTS: 1 << 5,
} as const;

/** Largest payload one packet can carry; a payload this long continues in the next packet. */
export const MAX_PAYLOAD = 0xff_ffff;

/** One MySQL packet: its sequence id and payload (the 4-byte header removed). */
export interface MysqlPacket {
  readonly seq: number;
  readonly payload: Buffer;
}

/** Frames `payload` (< 16 MiB) as one packet with sequence id `seq`. */
export function frame(seq: number, payload: Buffer): Buffer {
  if (payload.length >= MAX_PAYLOAD) throw new RangeError('payload too long for one packet');
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq & 0xff;
  return Buffer.concat([header, payload]);
}

/** Why a {@link PacketReader} stopped: stable strings the front end logs and tests match. */

/** Framing of one packet: a 3-byte little-endian payload length and a sequence id. */
export const packetFraming: Framing = (buf) => (buf.length < 4 ? -1 : 4 + buf.readUIntLE(0, 3));

export { FrameReaderError as PacketReaderError };

/**
 * Turns a byte stream into MySQL packets during the handshake (see {@link FrameReader}): a declared
 * length above `maxPayload` fails the reader instead of buffering it.
 *
 * @example
 * ```ts
 * const reader = new PacketReader(socket, 65_536);
 * const { seq, payload } = await reader.read();
 * ```
 */
export class PacketReader {
  readonly frames: FrameReader;

  /** Reads `source`: a stream, with packets of at most `maxPayload` bytes, or a frame reader. */
  constructor(source: Duplex | FrameReader, maxPayload = MAX_PAYLOAD) {
    this.frames = source instanceof FrameReader ? source : new FrameReader(source, maxPayload + 4);
  }

  /** The next packet; rejects with a {@link FrameReaderError} once none can come. */
  async read(timeoutMs?: number): Promise<MysqlPacket> {
    const frame = await this.frames.read(packetFraming, timeoutMs);
    return { seq: frame[3] ?? 0, payload: frame.subarray(4) };
  }

  /** Stops reading and returns the bytes received but not consumed (see {@link FrameReader.detach}). */
  detach(): Buffer {
    return this.frames.detach();
  }
}

// ---- primitive readers / writers -------------------------------------------------------------

/** Thrown by the parsers on a packet that does not have the shape it must have. */
export class MalformedPacketError extends Error {
  constructor(what: string) {
    super(`malformed ${what}`);
    this.name = 'MalformedPacketError';
  }
}

/** A bounds-checked cursor over a payload: every read past the end throws {@link MalformedPacketError}. */
export class Cursor {
  offset = 0;
  constructor(
    readonly buf: Buffer,
    readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  #need(n: number): void {
    if (n < 0 || this.offset + n > this.buf.length) throw new MalformedPacketError(this.what);
  }

  u8(): number {
    this.#need(1);
    return this.buf[this.offset++] ?? 0;
  }

  u16(): number {
    this.#need(2);
    const v = this.buf.readUInt16LE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number): Buffer {
    this.#need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** NUL-terminated bytes; at the end of the payload a missing NUL is tolerated (clients omit it). */
  nulBytes(): Buffer {
    const end = this.buf.indexOf(0, this.offset);
    const stop = end === -1 ? this.buf.length : end;
    const v = this.buf.subarray(this.offset, stop);
    this.offset = end === -1 ? this.buf.length : end + 1;
    return v;
  }

  /** Length-encoded integer; NULL (0xfb) and 0xff are not valid here. */
  lenenc(): number {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) {
      this.#need(3);
      const v = this.buf.readUIntLE(this.offset, 3);
      this.offset += 3;
      return v;
    }
    if (first === 0xfe) {
      this.#need(8);
      const v = this.buf.readBigUInt64LE(this.offset);
      this.offset += 8;
      // Nothing in a handshake is that long; the bounds check of the caller rejects it.
      return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
    }
    throw new MalformedPacketError(this.what);
  }
}

/** Length-encoded integer bytes. */
export function lenencInt(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n <= 0xffff) {
    const b = Buffer.alloc(3);
    b[0] = 0xfc;
    b.writeUInt16LE(n, 1);
    return b;
  }
  if (n <= 0xff_ffff) {
    const b = Buffer.alloc(4);
    b[0] = 0xfd;
    b.writeUIntLE(n, 1, 3);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

export const nul = (s: string | Buffer): Buffer =>
  Buffer.concat([typeof s === 'string' ? Buffer.from(s, 'utf8') : s, Buffer.alloc(1)]);

// ---- generic packets -------------------------------------------------------------------------

/** ERR packet payload (4.1 format, with SQLSTATE marker). */
export function errPacket(errno: number, sqlState: string, message: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(errno, 1);
  return Buffer.concat([
    head,
    Buffer.from(`#${sqlState.padEnd(5, '0').slice(0, 5)}`, 'latin1'),
    Buffer.from(message, 'utf8'),
  ]);
}

/** A parsed ERR packet. */
export interface ErrPacket {
  readonly errno: number;
  readonly sqlState: string | undefined;
  readonly message: string;
}

/** Parses an ERR packet payload (with or without the SQLSTATE marker). */
export function parseErrPacket(payload: Buffer): ErrPacket {
  const c = new Cursor(payload, 'ERR packet');
  if (c.u8() !== 0xff) throw new MalformedPacketError('ERR packet');
  const errno = c.u16();
  let sqlState: string | undefined;
  if (c.remaining >= 6 && payload[c.offset] === 0x23) {
    c.u8();
    sqlState = c.bytes(5).toString('latin1');
  }
  return { errno, sqlState, message: c.bytes(c.remaining).toString('utf8') };
}

/** AuthSwitchRequest payload: switch to `plugin`, with `data` as its challenge. */
export function authSwitchRequest(plugin: string, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), nul(plugin), data]);
}

/** A parsed AuthSwitchRequest. */
export interface AuthSwitch {
  readonly plugin: string;
  /** The new challenge, without the trailing NUL servers append. */
  readonly data: Buffer;
}

/** Parses an AuthSwitchRequest payload (0xfe, plugin name, data). */
export function parseAuthSwitch(payload: Buffer): AuthSwitch {
  const c = new Cursor(payload, 'auth switch request');
  if (c.u8() !== 0xfe || c.remaining === 0) throw new MalformedPacketError('auth switch request');
  const plugin = c.nulBytes().toString('latin1');
  let data = c.bytes(c.remaining);
  if (data.length > 0 && data[data.length - 1] === 0) data = data.subarray(0, -1);
  return { plugin, data };
}
