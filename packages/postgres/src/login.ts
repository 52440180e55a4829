import { type IamConnector, isAuthRejection, RdsIamError, redact } from '@rds-iam/core';

/** An error PostgreSQL sent during a login, with its SQLSTATE as `code` (as `isAuthRejection` reads it). */
export interface LoginError extends Error {
  code: string;
}

/** One physical connection's login, watched from the socket postgres.js reads. */
export interface Login {
  /** The token handed to this login, once `pass` resolved. */
  token?: string;
  /** Ends the login with `err` (postgres.js sees a socket error and fails the waiting query). */
  abort(err: Error): void;
}

// The login currently being handled: set while postgres.js runs its `data` handler for a socket still
// logging in, which is when it calls `pass()` (synchronously, before its first await).
let current: Login | undefined;

/** The login whose server message postgres.js is handling right now, if any. */
export function currentLogin(): Login | undefined {
  return current;
}

// Per postgres.js connection (known by the `close` listener it puts on its socket): a rejected login
// already retried. A second rejection in a row fails instead of looping.
const retried = new WeakSet<object>();

const AUTHENTICATION = 0x52; // 'R'
const ERROR_RESPONSE = 0x45; // 'E'

/**
 * Watches `socket`'s server messages until the login ends, in front of postgres.js's own reader:
 * - attributes the `pass()` call postgres.js makes while handling a message to this socket's login;
 * - on a rejected token (28P01 / 28000), drops it and, the first time for this postgres.js
 *   connection, hides the rejection and closes the socket cleanly: postgres.js then reconnects with
 *   the same waiting query (its own path for a socket that closes while connecting), and the new
 *   login gets a fresh token. The second rejection in a row fails the query with an `RdsIamError`.
 * After the server accepts the login, the socket is left exactly as it was.
 */
export function watchLogin<S extends NodeJS.EventEmitter & { destroy(err?: Error): unknown }>(
  socket: S,
  connector: IamConnector,
): S {
  let pending = Buffer.alloc(0);
  const login: Login = { abort: (err) => socket.destroy(err) };
  const emit = socket.emit;
  const stop = (): void => {
    (socket as { emit?: unknown }).emit = emit;
  };
  socket.emit = function watched(this: S, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'data') return emit.call(this, event, ...args);
    pending = Buffer.concat([pending, args[0] as Buffer]);
    for (;;) {
      if (pending.length < 5) break;
      const end = 1 + pending.readUInt32BE(1);
      if (pending.length < end) break;
      const type = pending[0];
      const message = pending.subarray(0, end);
      pending = pending.subarray(end);
      if (type === AUTHENTICATION && message.length >= 9 && message.readUInt32BE(5) === 0) {
        // AuthenticationOk: the token was taken. Stop watching this socket.
        retried.delete(owner(socket));
        stop();
        break;
      }
      if (type === ERROR_RESPONSE) {
        const err = parseError(message);
        if (login.token !== undefined && isAuthRejection(err)) {
          connector.loginFailed(login.token, err);
          rejected(socket, connector, err);
          return true;
        }
        stop();
        break;
      }
    }
    const outer = current;
    current = login;
    try {
      return emit.call(this, event, ...args);
    } finally {
      current = outer;
    }
  } as S['emit'];
  return socket;
}

function rejected(
  socket: NodeJS.EventEmitter & { destroy(err?: Error): unknown },
  connector: IamConnector,
  err: LoginError,
): void {
  const connection = owner(socket);
  if (!retried.has(connection)) {
    retried.add(connection);
    // A clean close while connecting: postgres.js dials again for the same query.
    socket.destroy();
    return;
  }
  retried.delete(connection);
  const { user, host, port } = connector;
  socket.destroy(
    new RdsIamError(
      'ERR_AUTH_REJECTED',
      `rds-iam: the server rejected the IAM token for ${user}@${host}:${port} twice (${redact(err.message)}). Check that the user exists with IAM authentication enabled (GRANT rds_iam), that the IAM policy allows rds-db:connect on this user and the instance's resource id, that the region is right, and that signingHost names the RDS endpoint when you dial a tunnel.`,
      { cause: err },
    ),
  );
}

/** postgres.js's per-connection `close` handler on `socket`: the identity of its connection. */
function owner(socket: NodeJS.EventEmitter): object {
  return socket.listeners('close').at(-1) ?? socket;
}

/** An ErrorResponse's fields: `C` is the SQLSTATE, `M` the message. */
export function parseError(message: Buffer): LoginError {
  const fields: Record<string, string> = {};
  let at = 5;
  while (at < message.length && message[at] !== 0) {
    const end = message.indexOf(0, at + 1);
    if (end < 0) break;
    fields[String.fromCharCode(message[at] as number)] = message.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return Object.assign(new Error(fields.M ?? 'login failed'), {
    code: fields.C ?? '',
    severity: fields.S,
  });
}
