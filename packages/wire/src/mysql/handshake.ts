import { Capability, Cursor, lenencInt, MalformedPacketError, nul } from './packets.js';

/*
 * The connection phase's opening packets: the server's HandshakeV10 greeting, and the client's
 * SSLRequest / HandshakeResponse41.
 */

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

/** The 32-byte SSLRequest payload: the HandshakeResponse41 header, cut short, with CLIENT_SSL. */
export function sslRequest(capabilities: number, maxPacketSize: number, charset: number): Buffer {
  const header = Buffer.alloc(32);
  header.writeUInt32LE((capabilities | Capability.SSL) >>> 0, 0);
  header.writeUInt32LE(maxPacketSize >>> 0, 4);
  header[8] = charset & 0xff;
  return header;
}
