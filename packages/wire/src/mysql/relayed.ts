import { type Greeting, type HandshakeResponse, parseGreeting } from './handshake.js';
import { Capability, MariaDbCapability, type PacketReader } from './packets.js';
import { scramble } from './scramble.js';

/*
 * A front end that logs in upstream itself and then relays bytes untouched (the emulator, the
 * proxy) dials upstream before it greets the client, so that everything the client learns from the
 * greeting is true of the server it ends up talking to: the capabilities (a client that negotiated
 * CLIENT_DEPRECATE_EOF must get no EOF packets from upstream), MariaDB's extended capabilities, the
 * version string (drivers switch behaviour on "MariaDB" in it) and the connection id
 * (`KILL QUERY <threadId>` must name the real session). After authentication every command restarts
 * sequence ids at 0, so the relay never rewrites a byte.
 */

/**
 * Capabilities a relaying front end (the emulator, the proxy) announces when upstream has them. They change only what flows after
 * authentication (relayed untouched, so client and upstream just need to agree) or parts of the
 * handshake the front end parses and rebuilds itself. Left out on purpose: COMPRESS and
 * ZSTD_COMPRESSION_ALGORITHM (the handshake phase would have to switch framing mid-way; clients
 * fall back to uncompressed), MULTI_FACTOR_AUTHENTICATION (the front end does the authentication),
 * SSL (added separately: TLS ends at the front end), and the client-side-only or reserved bits.
 */
export const RELAYED_CAPABILITIES =
  Capability.LONG_PASSWORD |
  Capability.FOUND_ROWS |
  Capability.LONG_FLAG |
  Capability.CONNECT_WITH_DB |
  Capability.NO_SCHEMA |
  Capability.ODBC |
  Capability.LOCAL_FILES |
  Capability.IGNORE_SPACE |
  Capability.PROTOCOL_41 |
  Capability.INTERACTIVE |
  Capability.IGNORE_SIGPIPE |
  Capability.TRANSACTIONS |
  Capability.RESERVED |
  Capability.SECURE_CONNECTION |
  Capability.MULTI_STATEMENTS |
  Capability.MULTI_RESULTS |
  Capability.PS_MULTI_RESULTS |
  Capability.PLUGIN_AUTH |
  Capability.CONNECT_ATTRS |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  Capability.CAN_HANDLE_EXPIRED_PASSWORDS |
  Capability.SESSION_TRACK |
  Capability.DEPRECATE_EOF |
  Capability.OPTIONAL_RESULTSET_METADATA |
  Capability.QUERY_ATTRIBUTES;

/** MariaDB extended capabilities relayed when upstream offers them: all only shape later traffic. */
export const RELAYED_MARIADB_CAPABILITIES =
  MariaDbCapability.PROGRESS |
  MariaDbCapability.STMT_BULK_OPERATIONS |
  MariaDbCapability.EXTENDED_METADATA |
  MariaDbCapability.CACHE_METADATA |
  MariaDbCapability.BULK_UNIT_RESULTS;

/** What a relaying front end needs from both ends: 4.1 protocol and pluggable auth (for the switch). */
export const REQUIRED_CAPABILITIES =
  Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH;

/** Why the greeting of the server behind a relaying front end cannot serve it. */
export class UnfitGreetingError extends Error {
  /** `not-mysql`: no HandshakeV10; `too-old`: no 4.1 protocol or pluggable auth. */
  readonly reason: 'not-mysql' | 'too-old';
  constructor(reason: 'not-mysql' | 'too-old') {
    super(
      reason === 'not-mysql'
        ? 'did not greet as a MySQL server'
        : 'is too old (no 4.1 protocol / pluggable auth)',
    );
    this.name = 'UnfitGreetingError';
    this.reason = reason;
  }
}

/** The first packet of the server behind a relaying front end. */
export type UpstreamGreeting =
  | { readonly kind: 'greeting'; readonly greeting: Greeting }
  /** The server refused the connection before any handshake (too many connections, host blocked). */
  | { readonly kind: 'refused'; readonly payload: Buffer };

/**
 * Reads the greeting of the server a relaying front end dialled: the greeting, when it has what the
 * front end needs of it ({@link REQUIRED_CAPABILITIES}), or the server's ERR packet. Throws
 * {@link UnfitGreetingError} on anything else, and the reader's error when no packet comes (within
 * `timeoutMs`, when given).
 *
 * @example
 * ```ts
 * const first = await readGreeting(new PacketReader(upstream, 1 << 20), 5_000);
 * if (first.kind === 'refused') client.end(frame(0, first.payload));
 * ```
 */
export async function readGreeting(
  reader: PacketReader,
  timeoutMs?: number,
): Promise<UpstreamGreeting> {
  const { payload } = await reader.read(timeoutMs);
  if (payload[0] === 0xff) return { kind: 'refused', payload };
  let greeting: Greeting;
  try {
    greeting = parseGreeting(payload);
  } catch {
    throw new UnfitGreetingError('not-mysql');
  }
  if ((greeting.capabilities & REQUIRED_CAPABILITIES) !== REQUIRED_CAPABILITIES) {
    throw new UnfitGreetingError('too-old');
  }
  return { kind: 'greeting', greeting };
}

/**
 * The greeting a relaying front end sends its client: upstream's, with the capabilities narrowed to
 * what the relay supports, CLIENT_SSL when the front end offers TLS, a scramble of its own.
 *
 * @example
 * ```ts
 * const greeting = relayedGreeting(upstreamGreeting, { tls: true, authPlugin: 'mysql_native_password' });
 * ```
 */
export function relayedGreeting(
  up: Greeting,
  options: { readonly tls: boolean; readonly authPlugin: string; readonly serverVersion?: string },
): Greeting {
  const ssl = options.tls ? Capability.SSL : 0;
  return {
    serverVersion: options.serverVersion ?? up.serverVersion,
    connectionId: up.connectionId,
    scramble: scramble(),
    capabilities: ((up.capabilities & RELAYED_CAPABILITIES) | ssl) >>> 0,
    mariaDbCapabilities: (up.mariaDbCapabilities & RELAYED_MARIADB_CAPABILITIES) >>> 0,
    charset: up.charset,
    statusFlags: up.statusFlags,
    authPlugin: options.authPlugin,
  };
}

/**
 * The HandshakeResponse41 fields a relaying front end sends upstream for its client: the client's
 * capabilities within what was announced to it (CLIENT_SSL as the upstream connection is), and the
 * client's user (unless `user` replaces it), database, charset and attributes.
 *
 * @example
 * ```ts
 * const fields = relayedResponse(clientResponse, greeting, { ssl: true, user: 'app' });
 * ```
 */
export function relayedResponse(
  client: HandshakeResponse,
  announced: Greeting,
  options: { readonly ssl: boolean; readonly user?: string },
): Omit<HandshakeResponse, 'kind' | 'authData' | 'authPlugin'> {
  const ssl = options.ssl ? Capability.SSL : 0;
  return {
    capabilities:
      ((client.capabilities & announced.capabilities & ~Capability.SSL) |
        REQUIRED_CAPABILITIES |
        ssl) >>>
      0,
    mariaDbCapabilities: client.mariaDbCapabilities & announced.mariaDbCapabilities,
    maxPacketSize: client.maxPacketSize,
    charset: client.charset,
    user: options.user ?? client.user,
    database: client.database,
    connectAttrs: client.connectAttrs,
  };
}
