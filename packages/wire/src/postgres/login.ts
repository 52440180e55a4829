import type { FrameReader } from '../frames.js';
import {
  AuthCode,
  cstr,
  int32,
  message,
  type PostgresMessage,
  PostgresProtocolError,
  parseFields,
  passwordMessage,
  readMessage,
  startupMessage,
} from './messages.js';
import { md5Password, ScramClient } from './scram.js';

/*
 * The PostgreSQL login exchange, client side: StartupMessage, then whatever the server asks
 * (nothing, a cleartext password, md5, SCRAM-SHA-256), up to ReadyForQuery or an ErrorResponse.
 *
 *   client                                server
 *     StartupMessage(user, database, ...) ->
 *                                         <- AuthenticationCleartextPassword | MD5 | SASL ...
 *     PasswordMessage / SASL responses    ->
 *                                         <- AuthenticationOk, ParameterStatus*, BackendKeyData
 *                                         <- ReadyForQuery        (or ErrorResponse at any point)
 *
 * The emulator logs in upstream with it, the proxy logs in to RDS with the token as the cleartext
 * password, and doctor's probe sends the token only when the server asks for a cleartext password.
 */

/** A password method a server can ask for, as {@link PostgresLoginOptions.password} is asked. */
export type PostgresPasswordMethod = 'cleartext' | 'md5' | 'SCRAM-SHA-256';

/** What {@link loginPostgres} needs. */
export interface PostgresLoginOptions {
  /** The StartupMessage parameters, `user` among them. */
  readonly params: ReadonlyMap<string, string>;
  /**
   * The password for a method the server asked for, or `undefined` to answer nothing: the login
   * then ends as `unanswered` (doctor's probe sends a token only when asked for a cleartext one).
   */
  password(method: PostgresPasswordMethod): string | undefined;
  /** Bound on each wait for the server. Default: none (the caller's own timer bounds the login). */
  readonly timeoutMs?: number;
}

/** How a login ended. */
export type PostgresLoginOutcome =
  | {
      readonly kind: 'ready';
      /** Every message from AuthenticationOk through ReadyForQuery, as received: for a client. */
      readonly handshake: Buffer;
      /** The password method the server asked for; `undefined` when it let the user in without. */
      readonly method: PostgresPasswordMethod | undefined;
      readonly serverVersion: string | undefined;
    }
  | {
      readonly kind: 'error';
      /** The ErrorResponse's fields: `C` (SQLSTATE), `M` (message), ... */
      readonly fields: ReadonlyMap<string, string>;
      /** The ErrorResponse as received. */
      readonly raw: Buffer;
      /** Whether the server had already said AuthenticationOk (session start-up failed). */
      readonly authenticated: boolean;
      readonly method: PostgresPasswordMethod | undefined;
    }
  | {
      readonly kind: 'unanswered';
      /** What the server asked for, in words (`SASL (SCRAM-SHA-256-PLUS)`, `GSSAPI`, `md5`...). */
      readonly method: string;
      readonly code: number;
    };

/** Upstream is trusted more than clients, but a runaway handshake is still a bug. */
const MAX_HANDSHAKE_BYTES = 1 << 20;

const METHOD_NAMES: Record<number, string> = {
  [AuthCode.KERBEROS_V5]: 'Kerberos V5',
  [AuthCode.CLEARTEXT]: 'cleartext password',
  [AuthCode.MD5]: 'MD5 password',
  [AuthCode.GSS]: 'GSSAPI',
  [AuthCode.SSPI]: 'SSPI',
};

/**
 * Logs in over `reader` / `write` (a socket, plain or TLS, whose reader is `reader`) and returns
 * how it ended. Throws {@link PostgresProtocolError} on anything that is not the protocol, and the
 * reader's errors (closed, timeout) as they come.
 *
 * @example
 * ```ts
 * const outcome = await loginPostgres(reader, (b) => socket.write(b), {
 *   params: new Map([['user', 'app'], ['database', 'test']]),
 *   password: (method) => (method === 'cleartext' ? token : undefined),
 * });
 * if (outcome.kind === 'ready') client.write(outcome.handshake);
 * ```
 */
export async function loginPostgres(
  reader: FrameReader,
  write: (data: Buffer) => void,
  options: PostgresLoginOptions,
): Promise<PostgresLoginOutcome> {
  write(startupMessage(options.params));
  const user = options.params.get('user') ?? '';
  const held: Buffer[] = [];
  let heldBytes = 0;
  let method: PostgresPasswordMethod | undefined;
  let scram: ScramClient | undefined;
  let authenticated = false;
  let serverVersion: string | undefined;
  const answer = (asked: PostgresPasswordMethod): string | undefined => {
    method = asked;
    return options.password(asked);
  };
  for (;;) {
    const msg: PostgresMessage = await readMessage(reader, options.timeoutMs);
    if (msg.raw.length > MAX_HANDSHAKE_BYTES) {
      throw new PostgresProtocolError('the server sent an oversized message');
    }
    if (msg.type === 'E') {
      return { kind: 'error', fields: parseFields(msg.body), raw: msg.raw, authenticated, method };
    }
    if (authenticated) {
      // ParameterStatus, BackendKeyData, notices: the client's, up to and with ReadyForQuery.
      held.push(msg.raw);
      heldBytes += msg.raw.length;
      if (heldBytes > MAX_HANDSHAKE_BYTES) {
        throw new PostgresProtocolError('the server sent too much before ReadyForQuery');
      }
      if (msg.type === 'S') {
        const [name, value] = msg.body.toString('utf8').split('\0');
        if (name === 'server_version') serverVersion = value;
      }
      if (msg.type === 'Z') {
        return { kind: 'ready', handshake: Buffer.concat(held), method, serverVersion };
      }
      continue;
    }
    if (msg.type === 'N' || msg.type === 'v') continue; // notices, protocol negotiation
    if (msg.type !== 'R') {
      throw new PostgresProtocolError(
        `the server sent an unexpected message "${msg.type}" during authentication`,
      );
    }
    if (msg.body.length < 4) throw new PostgresProtocolError('the server sent a short message');
    const code = msg.body.readInt32BE(0);
    switch (code) {
      case AuthCode.OK:
        authenticated = true;
        held.push(msg.raw);
        heldBytes += msg.raw.length;
        break;
      case AuthCode.CLEARTEXT: {
        const password = answer('cleartext');
        if (password === undefined) return unanswered(code);
        write(passwordMessage(password));
        break;
      }
      case AuthCode.MD5: {
        const password = answer('md5');
        if (password === undefined) return unanswered(code);
        write(passwordMessage(md5Password(password, user, msg.body.subarray(4, 8))));
        break;
      }
      case AuthCode.SASL: {
        const mechanisms = msg.body.toString('utf8', 4).split('\0').filter(Boolean);
        const password = mechanisms.includes('SCRAM-SHA-256') ? answer('SCRAM-SHA-256') : undefined;
        if (password === undefined) {
          return { kind: 'unanswered', method: `SASL (${mechanisms.join(', ')})`, code };
        }
        scram = new ScramClient(password);
        const first = scram.first();
        write(message('p', Buffer.concat([cstr('SCRAM-SHA-256'), int32(first.length), first])));
        break;
      }
      case AuthCode.SASL_CONTINUE:
        if (!scram) throw new PostgresProtocolError('unexpected SASLContinue from the server');
        write(message('p', scram.final(msg.body.toString('utf8', 4))));
        break;
      case AuthCode.SASL_FINAL:
        if (!scram) throw new PostgresProtocolError('unexpected SASLFinal from the server');
        scram.verifyServer(msg.body.toString('utf8', 4));
        break;
      default:
        return unanswered(code);
    }
  }
}

function unanswered(code: number): PostgresLoginOutcome {
  return {
    kind: 'unanswered',
    method: METHOD_NAMES[code] ?? `authentication request ${code}`,
    code,
  };
}
