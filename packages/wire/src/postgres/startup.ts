import type net from 'node:net';
import { FrameReader } from '../frames.js';
import { type AcceptOptions, upgradeServerTls } from '../tls.js';
import {
  CANCEL_REQUEST_CODE,
  GSSENC_REQUEST_CODE,
  PostgresProtocolError,
  parseStartupParams,
  SSL_REQUEST_CODE,
  startupFraming,
  TLS_HANDSHAKE_RECORD,
} from './messages.js';

/*
 * The server side of a PostgreSQL start-up, before any authentication:
 *
 *   client                          server
 *     SSLRequest ------------------>  'S' and a TLS handshake, or 'N' (no TLS offered)
 *     GSSENCRequest --------------->  'N'
 *     (a TLS ClientHello at once) ->  TLS (PostgreSQL 17 `sslnegotiation=direct`)
 *     StartupMessage -------------->  parameters, protocol 3.x
 *     CancelRequest --------------->  handed to the caller to forward
 */

/** At most this many SSLRequest / GSSENCRequest negotiations per connection. */
const MAX_NEGOTIATIONS = 4;

/** What the client asked for once negotiation was over. */
export type PostgresStartupRequest =
  | {
      readonly kind: 'startup';
      /** Parameters (`user`, `database`, ...) without the `_pq_.` options we do not speak. */
      readonly params: Map<string, string>;
      /** The protocol's major version (3 for every supported client) and minor version. */
      readonly major: number;
      readonly minor: number;
      /** `_pq_.` options the client asked for; a 3.0 server answers NegotiateProtocolVersion. */
      readonly unsupported: readonly string[];
    }
  | { readonly kind: 'cancel'; readonly packet: Buffer };

/** A client after start-up negotiation. */
export interface PostgresStartup {
  /** The client's socket as the protocol continues on it: TLS when it was negotiated. */
  readonly socket: net.Socket;
  readonly reader: FrameReader;
  readonly tls: boolean;
  readonly request: PostgresStartupRequest;
}

/**
 * Options of {@link acceptPostgresStartup}: without `secureContext` an SSLRequest is answered `N`
 * and the client goes on in plaintext.
 */
export type PostgresStartupOptions = AcceptOptions;

/**
 * Reads a client's start-up on `raw` (the socket of a new connection): answers SSLRequest with `S`
 * and TLS when `secureContext` is given (else `N`), GSSENCRequest with `N`, accepts a direct TLS
 * ClientHello, and returns the StartupMessage's parameters or a CancelRequest. Throws
 * {@link PostgresProtocolError} on anything a client would not send (the caller drops the
 * connection), and the reader's errors.
 *
 * @example
 * ```ts
 * const { socket, reader, request } = await acceptPostgresStartup(raw, { maxPacketBytes: 65_536 });
 * if (request.kind === 'startup') console.log(request.params.get('user'));
 * ```
 */
export async function acceptPostgresStartup(
  raw: net.Socket,
  options: PostgresStartupOptions,
): Promise<PostgresStartup> {
  let socket: net.Socket = raw;
  let reader = new FrameReader(raw, options.maxPacketBytes);
  let encrypted = false;
  const upgrade = (): void => {
    const secure = upgradeServerTls(raw, reader.detach(), options, ['postgresql']);
    socket = secure;
    encrypted = true;
    reader = new FrameReader(secure, options.maxPacketBytes);
  };
  for (let negotiations = 0; ; ) {
    if (negotiations === 0 && options.secureContext && (await firstByteIsTls(reader))) {
      negotiations++;
      upgrade();
      continue;
    }
    const packet = await reader.read(startupFraming);
    const code = packet.readInt32BE(4);
    if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
      if (packet.length !== 8 || encrypted || ++negotiations > MAX_NEGOTIATIONS) {
        throw new PostgresProtocolError('bad encryption negotiation');
      }
      if (code === GSSENC_REQUEST_CODE || !options.secureContext) {
        socket.write(Buffer.from('N'));
        continue;
      }
      // Anything sent after an SSLRequest and before the handshake is an injection attempt
      // (CVE-2021-23214); PostgreSQL drops the connection, so do we.
      if (reader.buffered > 0) throw new PostgresProtocolError('data after SSLRequest');
      socket.write(Buffer.from('S'));
      upgrade();
      continue;
    }
    if (code === CANCEL_REQUEST_CODE) {
      if (packet.length !== 16) throw new PostgresProtocolError('bad cancel request');
      return {
        socket,
        reader,
        tls: encrypted,
        request: { kind: 'cancel', packet: Buffer.from(packet) },
      };
    }
    const major = code >>> 16;
    const params = major === 3 ? parseStartupParams(packet.subarray(8)) : new Map<string, string>();
    const unsupported = [...params.keys()].filter((k) => k.startsWith('_pq_.'));
    for (const k of unsupported) params.delete(k);
    return {
      socket,
      reader,
      tls: encrypted,
      request: { kind: 'startup', params, major, minor: code & 0xffff, unsupported },
    };
  }
}

/** Waits for the first byte and tells whether it opens a TLS handshake record. */
async function firstByteIsTls(reader: FrameReader): Promise<boolean> {
  // A zero-length read resolves once at least one byte is buffered (or the stream fails).
  await reader.read((buf) => (buf.length > 0 ? 0 : -1));
  return reader.startsWith(TLS_HANDSHAKE_RECORD);
}
