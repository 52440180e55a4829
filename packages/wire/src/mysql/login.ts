import { buildHandshakeResponse, type Greeting, type HandshakeResponse } from './handshake.js';
import { frame, type MysqlPacket, type PacketReader, parseAuthSwitch } from './packets.js';
import { cachingSha2Auth, cachingSha2FullAuth, nativePasswordAuth } from './scramble.js';

/*
 * The MySQL / MariaDB login exchange, client side, from the HandshakeResponse41 on:
 *
 *   client                                          server
 *     HandshakeResponse41(user, plugin, auth data) ->
 *                                                   <- OK | ERR
 *                                                   <- AuthSwitchRequest(plugin, challenge)
 *     auth data for that plugin ------------------>
 *                                                   <- AuthMoreData (caching_sha2_password:
 *                                                      fast auth done 0x03, full auth 0x04)
 *     password over TLS, or RSA-encrypted -------->
 *                                                   <- OK | ERR
 *
 * The emulator logs in upstream with it (the user's own password plugin), the proxy logs in to RDS
 * (which switches IAM users to mysql_clear_password and gets the token), and doctor's probe sends
 * the token only when the server switches to mysql_clear_password.
 */

/** Thrown on a server that does not follow the protocol (or asks for what cannot be answered). */
export class MysqlProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MysqlProtocolError';
  }
}

/** What {@link loginMysql} needs. */
export interface MysqlLoginOptions {
  /** The server's greeting. */
  readonly greeting: Greeting;
  /** The HandshakeResponse41 fields; the auth data and plugin are the login's. */
  readonly response: Omit<HandshakeResponse, 'kind' | 'authData' | 'authPlugin'>;
  /** The sequence id of the HandshakeResponse41: 1, or 2 after an SSLRequest. */
  readonly seq: number;
  /** Whether the connection is TLS: caching_sha2_password's full authentication then sends the password as is. */
  readonly secure: boolean;
  /**
   * The password for `plugin`, or `undefined` to answer nothing: the login ends as `unanswered`.
   * Asked for the first response (unless {@link initial} is given) and for every switch.
   */
  password(plugin: string): string | undefined;
  /** The first response's plugin and auth data, as is (the probe's and proxy's empty native answer). */
  readonly initial?: { readonly plugin: string; readonly authData: Buffer };
  /** Bound on each wait for the server. */
  readonly timeoutMs?: number;
}

/** How a login ended. */
export type MysqlLoginOutcome =
  | {
      /** `ok`: the server's OK packet; `err`: its ERR packet. */
      readonly kind: 'ok' | 'err';
      readonly payload: Buffer;
      /** The sequence id of that packet. */
      readonly seq: number;
      /** The last plugin the server asked for. */
      readonly plugin: string;
      /** Whether the server switched plugins on the way. */
      readonly switched: boolean;
    }
  | { readonly kind: 'unanswered'; readonly plugin: string };

/** Auth exchanges a server may take (switch, more data, public key, ...) before we give up. */
const MAX_AUTH_ROUNDS = 8;

const PLUGINS = ['mysql_native_password', 'caching_sha2_password', 'mysql_clear_password'];

/** The auth data `plugin` sends for `password` against `challenge`; `undefined` for other plugins. */
export function authDataFor(
  plugin: string,
  password: string,
  challenge: Buffer,
): Buffer | undefined {
  if (plugin === 'mysql_native_password') return nativePasswordAuth(password, challenge);
  if (plugin === 'caching_sha2_password') return cachingSha2Auth(password, challenge);
  if (plugin === 'mysql_clear_password') return Buffer.from(`${password}\0`, 'utf8');
  return undefined;
}

/**
 * Sends the HandshakeResponse41 and answers the server until it says OK or ERR. Throws
 * {@link MysqlProtocolError} on a server that does not follow the protocol, and the reader's errors
 * (closed, timeout) as they come.
 *
 * @example
 * ```ts
 * const outcome = await loginMysql(reader, (b) => socket.write(b), {
 *   greeting, response, seq: 2, secure: true,
 *   initial: { plugin: 'mysql_native_password', authData: Buffer.alloc(0) },
 *   password: (plugin) => (plugin === 'mysql_clear_password' ? token : undefined),
 * });
 * ```
 */
export async function loginMysql(
  reader: PacketReader,
  write: (data: Buffer) => void,
  options: MysqlLoginOptions,
): Promise<MysqlLoginOutcome> {
  const { greeting } = options;
  let plugin =
    options.initial?.plugin ??
    (PLUGINS.includes(greeting.authPlugin) ? greeting.authPlugin : 'mysql_native_password');
  let challenge = greeting.scramble;
  let authData = options.initial?.authData;
  if (!authData) {
    const password = options.password(plugin);
    authData = password === undefined ? undefined : authDataFor(plugin, password, challenge);
    if (!authData) return { kind: 'unanswered', plugin };
  }
  let seq = options.seq;
  write(frame(seq, buildHandshakeResponse({ ...options.response, authData, authPlugin: plugin })));
  let switched = false;
  let awaitingPublicKey = false;
  const send = (data: Buffer): void => {
    seq = (seq + 1) & 0xff;
    write(frame(seq, data));
  };
  for (let round = 0; round < MAX_AUTH_ROUNDS; round++) {
    const packet: MysqlPacket = await reader.read(options.timeoutMs);
    seq = packet.seq;
    const payload = packet.payload;
    switch (payload[0]) {
      case 0x00:
        return { kind: 'ok', payload, seq, plugin, switched };
      case 0xff:
        return { kind: 'err', payload, seq, plugin, switched };
      case 0xfe: {
        let sw: ReturnType<typeof parseAuthSwitch>;
        try {
          sw = parseAuthSwitch(payload);
        } catch {
          throw new MysqlProtocolError('an unreadable auth switch');
        }
        plugin = sw.plugin;
        challenge = sw.data;
        switched = true;
        const password = options.password(plugin);
        const data = password === undefined ? undefined : authDataFor(plugin, password, challenge);
        if (!data) return { kind: 'unanswered', plugin };
        send(data);
        break;
      }
      case 0x01: {
        // AuthMoreData: caching_sha2_password's fast-auth verdict, or the RSA key asked for.
        if (plugin !== 'caching_sha2_password') {
          throw new MysqlProtocolError(`unexpected auth data for ${plugin}`);
        }
        const password = options.password(plugin) ?? '';
        if (awaitingPublicKey) {
          awaitingPublicKey = false;
          try {
            send(cachingSha2FullAuth(password, challenge, payload.subarray(1).toString('latin1')));
          } catch {
            throw new MysqlProtocolError('an unusable RSA public key');
          }
        } else if (payload[1] === 0x04) {
          // Full authentication: the password itself over TLS; else ask for the RSA key (0x02).
          if (options.secure) send(Buffer.from(`${password}\0`, 'utf8'));
          else {
            awaitingPublicKey = true;
            send(Buffer.from([0x02]));
          }
        } else if (payload[1] !== 0x03) {
          throw new MysqlProtocolError('unexpected caching_sha2_password data');
        } // 0x03: fast auth succeeded, the OK packet follows
        break;
      }
      default:
        throw new MysqlProtocolError('an unexpected packet during authentication');
    }
  }
  throw new MysqlProtocolError('too many authentication rounds');
}
