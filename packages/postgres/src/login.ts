import { type IamConnector, isAuthRejection, RdsIamError, redact } from '@rds-iam/core';

/** An error PostgreSQL sent during a login, with its SQLSTATE as `code` (as `isAuthRejection` reads it). */
export interface LoginError extends Error {
  code: string;
}

/** One physical connection's login, watched from the socket postgres.js reads. */
interface Login {
  /** The token handed to this login, once `pass` resolved. */
  token?: string;
}

/** What {@link iamLogins} gives postgres.js: its `pass` option and the socket wrapper. */
export interface IamLogins {
  /** postgres.js's `pass`: a token for the login being handled; never a rejection postgres.js 3 would leave unhandled. */
  pass(): Promise<string>;
  /** Watches a new socket's login (see {@link iamLogins}). */
  watch<S extends WatchedSocket>(socket: S): S;
}

type WatchedSocket = NodeJS.EventEmitter & { destroy(err?: Error): unknown };

// Per postgres.js connection (known by the `close` listener it puts on its socket): a rejected login
// already retried. A second rejection in a row fails instead of looping.
const retried = new WeakSet<object>();

const AUTHENTICATION = 0x52; // 'R'
const ERROR_RESPONSE = 0x45; // 'E'

/**
 * Tokens for postgres.js logins, and a watch on each login's server messages in front of
 * postgres.js's own reader:
 * - postgres.js 3 calls `pass()` synchronously while it handles the server's password request, so the
 *   watch knows which socket the token went to. It does not catch a rejected `pass`, so a failed
 *   mint ends that socket with the error instead (the query fails with it; the process lives on).
 * - On a rejected token (28P01 / 28000) the token is dropped and, the first time for this postgres.js
 *   connection, the rejection is hidden and the socket closed cleanly: postgres.js 3 then reconnects
 *   for the same waiting query (its path for a socket that closes while connecting), and the new
 *   login gets a fresh token. A second rejection in a row fails the query with an `RdsIamError`.
 * - A `pass()` call outside a watched message (postgres.js 4 calls it later, and catches its
 *   rejection) gets a token as is; a rejection is then only dropped, not retried.
 * After the server accepts the login, the socket is left exactly as it was.
 */
export function iamLogins(connector: IamConnector): IamLogins {
  // The login whose server message postgres.js is handling right now.
  let current: Login | undefined;
  let lastToken: string | undefined;
  const abortCurrent = new WeakMap<Login, (err: Error) => void>();

  function pass(): Promise<string> {
    const login = current;
    const minted = connector.password().then((token) => {
      lastToken = token;
      if (login) login.token = token;
      return token;
    });
    if (!login) return minted;
    return minted.catch((err: unknown) => {
      abortCurrent.get(login)?.(err instanceof Error ? err : new Error(String(err)));
      // The socket is ending with the error; postgres.js's await of `pass` is left pending.
      return new Promise<string>(() => {});
    });
  }

  function watch<S extends WatchedSocket>(socket: S): S {
    let pending = Buffer.alloc(0);
    const login: Login = {};
    abortCurrent.set(login, (err) => socket.destroy(err));
    const emit = socket.emit;
    const ownEmit = Object.hasOwn(socket, 'emit');
    const stop = (): void => {
      if (ownEmit) socket.emit = emit;
      else delete (socket as { emit?: unknown }).emit;
    };
    socket.emit = function watched(this: S, event: string | symbol, ...args: unknown[]): boolean {
      if (event !== 'data') return emit.call(this, event, ...args);
      pending = Buffer.concat([pending, args[0] as Buffer]);
      while (pending.length >= 5) {
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
          stop();
          const err = parseError(message);
          const token = login.token ?? lastToken;
          if (token === undefined || !isAuthRejection(err)) break;
          connector.loginFailed(token, err);
          // Retry only a login whose token is known to be this socket's (postgres.js 3).
          if (login.token === undefined) break;
          rejected(socket, connector, err);
          return true;
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

  return { pass, watch };
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
