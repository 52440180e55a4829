import { createHash, constants as cryptoConstants, publicEncrypt } from 'node:crypto';
import type { Duplex } from 'node:stream';

/*
 * MySQL / MariaDB client-server protocol pieces the emulator's front end needs up to
 * authentication: framing, the HandshakeV10 greeting, HandshakeResponse41 / SSLRequest, OK / ERR /
 * AuthSwitchRequest, and the scrambles of mysql_native_password and caching_sha2_password.
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
export type PacketReaderFailure = 'closed' | 'oversize' | 'error' | 'detached';

/** Raised by {@link PacketReader.read} once its stream can no longer produce a packet. */
export class PacketReaderError extends Error {
  constructor(readonly reason: PacketReaderFailure) {
    super(`mysql packet stream ${reason}`);
    this.name = 'PacketReaderError';
  }
}

/**
 * Turns a byte stream into MySQL packets during the handshake, when each side sends a few small
 * packets and waits. Chunks may split or merge packets anywhere (TCP, and TLS records), so bytes are
 * buffered until a whole packet is there. A declared length above `maxPayload`, or more buffered
 * bytes than a handshake can legitimately queue, fails the reader (hostile peer) instead of
 * buffering without bound.
 *
 * {@link detach} hands the stream back (paused) with the bytes read but not consumed, for a TLS
 * upgrade or for the transparent relay after authentication.
 */
export class PacketReader {
  #buffered: Buffer = Buffer.alloc(0);
  #failure: PacketReaderError | undefined;
  #waiter: { resolve: (p: MysqlPacket) => void; reject: (e: Error) => void } | undefined;
  readonly #stream: Duplex;
  readonly #maxPayload: number;
  readonly #maxBuffered: number;
  readonly #onData = (chunk: Buffer): void => {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    this.#check();
  };
  readonly #onEnd = (): void => this.#fail('closed');
  readonly #onError = (): void => this.#fail('error');

  constructor(stream: Duplex, maxPayload: number) {
    this.#stream = stream;
    this.#maxPayload = maxPayload;
    // A well-behaved peer queues at most one packet plus the start of what follows it (a TLS
    // ClientHello right behind an SSLRequest); allow some slack, never unbounded growth.
    this.#maxBuffered = Math.max(2 * (maxPayload + 4), 64 * 1024);
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('close', this.#onEnd);
    stream.on('error', this.#onError);
  }

  /** The next packet; rejects with a {@link PacketReaderError} once none can come. One read at a time. */
  read(): Promise<MysqlPacket> {
    return new Promise<MysqlPacket>((resolve, reject) => {
      if (this.#waiter) {
        reject(new Error('PacketReader.read called while a read is pending'));
        return;
      }
      this.#waiter = { resolve, reject };
      this.#check();
    });
  }

  /**
   * Stops reading: pauses the stream, removes this reader's listeners, rejects a pending read and
   * returns the bytes received but not yet consumed as packets.
   */
  detach(): Buffer {
    this.#stream.pause();
    this.#stream.off('data', this.#onData);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('close', this.#onEnd);
    this.#stream.off('error', this.#onError);
    const rest = this.#buffered;
    this.#buffered = Buffer.alloc(0);
    this.#fail('detached');
    return rest;
  }

  #fail(reason: PacketReaderFailure): void {
    if (this.#failure) return;
    this.#failure = new PacketReaderError(reason);
    // Garbage is not worth keeping; after a clean close, whole packets still buffered are delivered.
    if (reason === 'oversize') this.#buffered = Buffer.alloc(0);
    this.#check();
  }

  #check(): void {
    const buf = this.#buffered;
    if (!this.#failure && buf.length >= 3 && buf.readUIntLE(0, 3) > this.#maxPayload) {
      this.#fail('oversize');
      return;
    }
    if (!this.#failure && buf.length > this.#maxBuffered) {
      this.#fail('oversize');
      return;
    }
    const waiter = this.#waiter;
    if (!waiter) return;
    if (buf.length >= 4) {
      const length = buf.readUIntLE(0, 3);
      if (buf.length >= 4 + length) {
        this.#waiter = undefined;
        this.#buffered = buf.subarray(4 + length);
        waiter.resolve({ seq: buf[3] ?? 0, payload: buf.subarray(4, 4 + length) });
        return;
      }
    }
    if (this.#failure) {
      this.#waiter = undefined;
      waiter.reject(this.#failure);
    }
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
class Cursor {
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

const nul = (s: string | Buffer): Buffer =>
  Buffer.concat([typeof s === 'string' ? Buffer.from(s, 'utf8') : s, Buffer.alloc(1)]);

// ---- greeting ---------------------------------------------------------------------------------

/** A HandshakeV10 greeting, as sent by a server. */
export interface Greeting {
  readonly serverVersion: string;
  readonly connectionId: number;
  /** The auth plugin data (scramble), normally 20 bytes, without the trailing NUL. */
  readonly scramble: Buffer;
  /** Low 32 capability bits, unsigned. */
  readonly capabilities: number;
  /** MariaDB's extended capabilities; 0 when the server is MySQL (CLIENT_LONG_PASSWORD set). */
  readonly mariaDbCapabilities: number;
  readonly charset: number;
  readonly statusFlags: number;
  readonly authPlugin: string;
}

/** Parses a HandshakeV10 greeting. Throws {@link MalformedPacketError} on anything else. */
export function parseGreeting(payload: Buffer): Greeting {
  const c = new Cursor(payload, 'greeting');
  if (c.u8() !== 10) throw new MalformedPacketError('greeting (protocol version is not 10)');
  const serverVersion = c.nulBytes().toString('utf8');
  const connectionId = c.u32();
  const part1 = c.bytes(8);
  c.u8(); // filler
  const capsLow = c.u16();
  const charset = c.remaining > 0 ? c.u8() : 0;
  const statusFlags = c.remaining > 0 ? c.u16() : 0;
  const capsHigh = c.remaining > 0 ? c.u16() : 0;
  const capabilities = ((capsHigh << 16) | capsLow) >>> 0;
  const authDataLength = c.remaining > 0 ? c.u8() : 0;
  let mariaDbCapabilities = 0;
  if (c.remaining >= 10) {
    c.bytes(6);
    const ext = c.u32();
    if ((capabilities & Capability.LONG_PASSWORD) === 0) mariaDbCapabilities = ext;
  }
  let part2: Buffer = Buffer.alloc(0);
  if (capabilities & Capability.SECURE_CONNECTION) {
    const len = Math.max(13, authDataLength - 8);
    part2 = c.bytes(Math.min(len, c.remaining));
    // The scramble's second part ends with a NUL that is not part of it.
    if (part2.length > 0 && part2[part2.length - 1] === 0) part2 = part2.subarray(0, -1);
  }
  const authPlugin =
    capabilities & Capability.PLUGIN_AUTH
      ? c.nulBytes().toString('latin1')
      : 'mysql_native_password';
  return {
    serverVersion,
    connectionId,
    scramble: Buffer.concat([part1, part2]),
    capabilities,
    mariaDbCapabilities,
    charset,
    statusFlags,
    authPlugin,
  };
}

/** Serializes a HandshakeV10 greeting (scramble of exactly 20 bytes, no NUL inside). */
export function buildGreeting(g: Greeting): Buffer {
  if (g.scramble.length !== 20) throw new RangeError('scramble must be 20 bytes');
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let o = 0;
  o = fixed.writeUInt32LE(g.connectionId >>> 0, o);
  o += g.scramble.copy(fixed, o, 0, 8);
  fixed[o++] = 0;
  o = fixed.writeUInt16LE(g.capabilities & 0xffff, o);
  fixed[o++] = g.charset & 0xff;
  o = fixed.writeUInt16LE(g.statusFlags & 0xffff, o);
  o = fixed.writeUInt16LE((g.capabilities >>> 16) & 0xffff, o);
  fixed[o++] = 21; // auth plugin data length: 20-byte scramble + NUL
  o += 6; // reserved
  // MariaDB puts its extended capabilities in the last 4 reserved bytes when it clears CLIENT_MYSQL.
  if ((g.capabilities & Capability.LONG_PASSWORD) === 0)
    fixed.writeUInt32LE(g.mariaDbCapabilities >>> 0, o);
  return Buffer.concat([
    Buffer.from([10]),
    nul(g.serverVersion),
    fixed,
    nul(g.scramble.subarray(8, 20)),
    nul(g.authPlugin),
  ]);
}

// ---- client handshake response ----------------------------------------------------------------

/** The 32-byte SSLRequest: a HandshakeResponse41 cut short after the capability header. */
export interface SslRequest {
  readonly kind: 'ssl-request';
  readonly capabilities: number;
}

/** A HandshakeResponse41. */
export interface HandshakeResponse {
  readonly kind: 'response';
  readonly capabilities: number;
  readonly mariaDbCapabilities: number;
  readonly maxPacketSize: number;
  readonly charset: number;
  readonly user: string;
  readonly authData: Buffer;
  /** The default database, when CLIENT_CONNECT_WITH_DB; `undefined` otherwise. */
  readonly database: Buffer | undefined;
  readonly authPlugin: string | undefined;
  /** The raw connection-attributes block (without its length prefix), when CLIENT_CONNECT_ATTRS. */
  readonly connectAttrs: Buffer | undefined;
}

/**
 * Parses what a client sends after the greeting: an SSLRequest or a HandshakeResponse41. The
 * client's own capability flags decide the layout, as they decide how the client encoded it.
 * Pre-4.1 responses are refused (every supported client speaks 4.1).
 */
export function parseHandshakeResponse(payload: Buffer): SslRequest | HandshakeResponse {
  const c = new Cursor(payload, 'handshake response');
  const capabilities = c.u32();
  if ((capabilities & Capability.PROTOCOL_41) === 0) {
    throw new MalformedPacketError('handshake response (pre-4.1 protocol)');
  }
  const maxPacketSize = c.u32();
  const charset = c.u8();
  c.bytes(19);
  const ext = c.u32();
  if (c.remaining === 0 && capabilities & Capability.SSL)
    return { kind: 'ssl-request', capabilities };
  const user = c.nulBytes().toString('utf8');
  let authData: Buffer;
  if (capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) authData = c.bytes(c.lenenc());
  else if (capabilities & Capability.SECURE_CONNECTION) authData = c.bytes(c.u8());
  else authData = c.nulBytes();
  let database: Buffer | undefined;
  if (capabilities & Capability.CONNECT_WITH_DB)
    database = c.remaining > 0 ? c.nulBytes() : Buffer.alloc(0);
  let authPlugin: string | undefined;
  if (capabilities & Capability.PLUGIN_AUTH && c.remaining > 0)
    authPlugin = c.nulBytes().toString('latin1');
  let connectAttrs: Buffer | undefined;
  if (capabilities & Capability.CONNECT_ATTRS && c.remaining > 0)
    connectAttrs = c.bytes(c.lenenc());
  return {
    kind: 'response',
    capabilities,
    // Only meaningful when the client cleared CLIENT_MYSQL for a MariaDB server; filler otherwise.
    mariaDbCapabilities: capabilities & Capability.LONG_PASSWORD ? 0 : ext,
    maxPacketSize,
    charset,
    user,
    authData,
    database,
    authPlugin,
    connectAttrs,
  };
}

/** Serializes a HandshakeResponse41, encoding the auth data as `capabilities` says. */
export function buildHandshakeResponse(r: Omit<HandshakeResponse, 'kind'>): Buffer {
  const header = Buffer.alloc(32);
  header.writeUInt32LE(r.capabilities >>> 0, 0);
  header.writeUInt32LE(r.maxPacketSize >>> 0, 4);
  header[8] = r.charset & 0xff;
  if ((r.capabilities & Capability.LONG_PASSWORD) === 0)
    header.writeUInt32LE(r.mariaDbCapabilities >>> 0, 28);
  const parts: Buffer[] = [header, nul(r.user)];
  if (r.capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    parts.push(lenencInt(r.authData.length), r.authData);
  } else if (r.capabilities & Capability.SECURE_CONNECTION) {
    if (r.authData.length > 0xff) throw new RangeError('auth data too long');
    parts.push(Buffer.from([r.authData.length]), r.authData);
  } else {
    parts.push(nul(r.authData));
  }
  if (r.capabilities & Capability.CONNECT_WITH_DB) parts.push(nul(r.database ?? Buffer.alloc(0)));
  if (r.capabilities & Capability.PLUGIN_AUTH)
    parts.push(nul(r.authPlugin ?? 'mysql_native_password'));
  if (r.capabilities & Capability.CONNECT_ATTRS) {
    const attrs = r.connectAttrs ?? Buffer.alloc(0);
    parts.push(lenencInt(attrs.length), attrs);
  }
  return Buffer.concat(parts);
}

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

// ---- auth scrambles --------------------------------------------------------------------------

const sha1 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};
const sha256 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) ^ (b[i % b.length] ?? 0);
  return out;
}

/**
 * mysql_native_password: `SHA1(pw) XOR SHA1(scramble || SHA1(SHA1(pw)))`; the empty password sends
 * empty auth data.
 */
export function nativePasswordAuth(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const pw = Buffer.from(password, 'utf8');
  const stage1 = sha1(pw);
  return xor(stage1, sha1(scramble.subarray(0, 20), sha1(stage1)));
}

/**
 * caching_sha2_password fast path: `SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || scramble)`; the
 * empty password sends empty auth data.
 */
export function cachingSha2Auth(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha256(Buffer.from(password, 'utf8'));
  return xor(stage1, sha256(sha256(stage1), scramble.subarray(0, 20)));
}

/**
 * caching_sha2_password full authentication over a connection without TLS: the NUL-terminated
 * password XOR the scramble, encrypted with the server's RSA public key (OAEP).
 */
export function cachingSha2FullAuth(
  password: string,
  scramble: Buffer,
  publicKeyPem: string,
): Buffer {
  const plain = xor(Buffer.from(`${password}\0`, 'utf8'), scramble.subarray(0, 20));
  return publicEncrypt(
    { key: publicKeyPem, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING },
    plain,
  );
}
