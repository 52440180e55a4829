import type { PeerCertificate } from 'node:tls';
import { nodeTls } from './builtins.js';
import {
  createIamConnector,
  type IamConnectionOptions,
  type IamConnector,
  type IamTls,
  isTlsVerifyError,
} from './connector.js';
import { describeError, RdsIamError } from './errors.js';
import { isAuthRejection } from './rejection.js';

// The mariadb connector's login hook, shared by every integration that drives it (Prisma's MariaDB
// adapter, Sequelize's and MikroORM's mariadb dialects). It needs nothing from the connector itself:
// it works on the options object the connector hands each new connection.

/** What an integration hears about a login through {@link mariadbIamStream}. */
export interface MariaDbLoginListener {
  /**
   * No login can succeed for an rds-iam reason: no token could be had, or the server's certificate
   * did not verify (the token was withheld). Integrations fail their waiting requests with it.
   */
  fail?(err: Error): void;
  /** The server rejected the token; it is already dropped, so the next login mints a fresh one. */
  rejected?(err: unknown): void;
}

/** The per-connection options object the connector calls `stream` on (`this`). */
export type MariaDbConnectionOptions = Record<string, unknown> & {
  ssl?: unknown;
  logger?: MariaDbLogger;
};

/** The mariadb connector's `logger` option, as an object. */
export interface MariaDbLogger {
  network?: ((msg: string) => void) | null;
  query?: ((msg: string) => void) | null;
  error?: ((err: unknown) => void) | null;
  warning?: ((msg: string) => void) | null;
  logParam?: boolean;
}

/** What the connector passes the `stream` option: call it with an error, or with a socket or nothing. */
export type MariaDbStreamCallback = (err?: Error | null, stream?: unknown) => void;
/** The mariadb connector's `stream` option. */
export type MariaDbStream = (
  this: MariaDbConnectionOptions,
  callback: MariaDbStreamCallback,
) => unknown;

/** The mariadb connector's own certificate errors: ER_SELF_SIGNED(_NO_PWD), ER_TLS_IDENTITY_ERROR, ... */
const MARIADB_TLS_ERRNOS = new Set([45056, 45057, 45059, 45062]);

/** Everything needed to watch one connection's login. */
interface LoginState {
  /** The token was handed to the connector (TLS had been verified). */
  sent: boolean;
  /** OpenSSL verified the chain (Node calls `checkServerIdentity` only then). */
  chainVerified: boolean;
  identityError: Error | undefined;
  peer: PeerCertificate | undefined;
  /** Why the token was withheld, when it was. */
  tlsError: RdsIamError | undefined;
  /** The login's failure was already reported. */
  reported: boolean;
}

/**
 * The mariadb connector has no password hook, so rds-iam uses its `stream(callback)` option: the
 * connector calls it for every new connection, before opening the socket, as a method of that
 * connection's own copy of the options (`this`). The hook mints (or reuses) a token, then, on that
 * per-connection options object:
 *
 * - defines `password` as a getter that hands out the token only once this connection's TLS
 *   handshake verified the server (chain and name, `tls.assertSecure`), and an empty password
 *   otherwise: mariadb 3.4 (which `@prisma/adapter-mariadb` 7 pins) turns certificate checks off at
 *   the TLS layer for any server whose version says MariaDB and checks the certificate only after
 *   authentication, so without this the cleartext token could go to an unverified server;
 * - replaces `ssl` with a copy whose `checkServerIdentity` records that the chain verified;
 * - wraps `logger.error`, through which the connector reports a failed login: a rejected token is
 *   dropped (`loginFailed`), certificate failures and withheld tokens are reported to
 *   `listener.fail`, so that whoever waits for the connection learns what to fix rather than a pool
 *   timeout or an access denied.
 *
 * @example
 * ```ts
 * const connector = createIamConnector({ host, user: 'app' }, 'mysql');
 * const pool = mariadb.createPool({
 *   host: connector.host,
 *   port: connector.port,
 *   user: connector.user,
 *   ssl: connector.tls.ssl,
 *   stream: mariadbIamStream(connector, { fail: (err) => console.error(err.message) }),
 * });
 * ```
 */
export function mariadbIamStream(
  connector: IamConnector,
  listener: MariaDbLoginListener = {},
  userStream?: MariaDbStream,
): MariaDbStream {
  const tls = connector.tls;
  return function iamStream(
    this: MariaDbConnectionOptions,
    callback: MariaDbStreamCallback,
  ): undefined {
    connector.password().then(
      (token) => {
        try {
          watchLogin(this, token, tls, connector, listener);
        } catch (err) {
          callback(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (!userStream) {
          // No stream: the connector opens the TCP socket itself, as it would without this hook.
          callback(null);
          return;
        }
        let called = false;
        const once: MariaDbStreamCallback = (err, stream) => {
          if (called) return;
          called = true;
          callback(err, stream);
        };
        const socket = userStream.call(this, once);
        if (socket) once(null, socket);
      },
      (err: unknown) => {
        listener.fail?.(err as Error);
        // A copy per connection attempt: the pool appends its state to the message of the error it
        // is given, and the provider hands out the same error object while it backs off.
        const code = err instanceof RdsIamError ? err.code : 'ERR_SIGNING';
        const message = err instanceof Error ? err.message : String(err);
        callback(new RdsIamError(code, message, { cause: err }));
      },
    );
    return undefined;
  };
}

function watchLogin(
  opts: MariaDbConnectionOptions,
  token: string,
  tls: IamTls,
  connector: IamConnector,
  listener: MariaDbLoginListener,
): void {
  const state: LoginState = {
    sent: false,
    chainVerified: false,
    identityError: undefined,
    peer: undefined,
    tlsError: undefined,
    reported: false,
  };
  if (tls.sharedSsl !== false) {
    // Set here, per connection, after any ORM copied its options: the shared context stays intact.
    const base = tls.sharedSsl;
    const check = base.checkServerIdentity ?? nodeTls().checkServerIdentity;
    opts.ssl = {
      ...base,
      checkServerIdentity(host: string, cert: PeerCertificate): Error | undefined {
        // Node calls this only after OpenSSL verified the chain against `ca`, also when the connector
        // turned `rejectUnauthorized` off.
        const error = check(host, cert);
        state.chainVerified = true;
        state.peer = cert;
        state.identityError = error;
        return error;
      },
    };
  }
  const handOut = (): string => {
    if (tls.ssl !== false) {
      try {
        tls.assertSecure({
          encrypted: true,
          authorized: state.chainVerified && !state.identityError,
          getPeerCertificate: () => state.peer,
        });
      } catch (err) {
        // Read before the handshake finished (mariadb 3.5 asks early), or the server is not who it
        // should be: either way no token leaves.
        state.tlsError = err as RdsIamError;
        return '';
      }
    }
    state.sent = true;
    state.tlsError = undefined;
    return token;
  };
  // Not enumerable: copies of the options (and loggers that walk them) never see the token.
  Object.defineProperty(opts, 'password', {
    configurable: true,
    enumerable: false,
    get: handOut,
    set(value: unknown) {
      // changeUser() stores a new password: let it.
      Object.defineProperty(opts, 'password', {
        value,
        writable: true,
        configurable: true,
        enumerable: true,
      });
    },
  });
  const logger = opts.logger ?? {};
  opts.logger = {
    ...logger,
    error(err: unknown) {
      logger.error?.(err);
      if (state.reported) return;
      if (!state.sent && state.tlsError) {
        state.reported = true;
        listener.fail?.(state.tlsError);
      } else if (state.sent && isAuthRejection(err)) {
        state.reported = true;
        connector.loginFailed(token, err);
        listener.rejected?.(err);
      } else if (isTlsVerifyError(err) || MARIADB_TLS_ERRNOS.has(errnoOf(err))) {
        state.reported = true;
        listener.fail?.(
          new RdsIamError(
            'ERR_TLS_VERIFY',
            `rds-iam: the TLS certificate of '${connector.host}' did not verify (${describeError(err)}). RDS endpoints verify against the bundled RDS CAs; for anything else (the rds-iam emulator, a proxy with its own certificate) pass its CA as \`ssl: { ca }\`, and when you dial a tunnel or alias set \`signingHost\` to the RDS endpoint name.`,
            { cause: err },
          ),
        );
      }
    },
  };
}

function errnoOf(err: unknown): number {
  const errno = (err as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' ? errno : -1;
}

/** What {@link mariadbIamSetup} returns. */
export interface MariaDbIamSetup {
  readonly connector: IamConnector;
  /** The connection options rds-iam sets: the endpoint, TLS and the login hook. */
  readonly settings: {
    host: string;
    port: number;
    user: string;
    ssl: IamTls['ssl'];
    stream: MariaDbStream;
  };
  /**
   * Runs `open` (one new connection) through the connector: a rejected token is dropped and the login
   * retried once; a token withheld because TLS did not verify fails as that `RdsIamError`, not as the
   * server's access denied.
   */
  connect<T>(open: () => Promise<T>): Promise<T>;
}

/**
 * The mariadb connector's `connectTimeout` when the application sets none: the bound on one new
 * connection, from the connector's first step to the end of the login. The connector's own default
 * (1 s) starts before it asks rds-iam for the connection's socket, so it would also bound the
 * token, which may wait for credentials (bounded by `credentialsTimeoutMs`, 5 s by default): a slow
 * credential source or a burst of new connections would end in "Connection timeout" instead of
 * rds-iam's coded error. 30 s, as `@rds-iam/pg` bounds a new node-postgres connection.
 */
export const MARIADB_CONNECT_TIMEOUT_MS = 30_000;

/**
 * The mariadb connector's options for an integration that opens each connection itself (knex's
 * mariadb client under MikroORM, Sequelize's mariadb dialect): spread `settings` into the
 * connection options and open each connection through `connect`.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * const { settings, connect } = mariadbIamSetup({ host, user: 'app' });
 * const conn = await connect(() => mariadb.createConnection({ ...settings, database: 'app' }));
 * ```
 */
export function mariadbIamSetup(options: IamConnectionOptions): MariaDbIamSetup {
  const connector = createIamConnector(options, 'mysql');
  // The latest failure the hook reported; TLS failures hold for every connection to the endpoint.
  let failure: Error | undefined;
  const stream = mariadbIamStream(connector, {
    fail: (err) => {
      failure = err;
    },
  });
  return {
    connector,
    settings: {
      host: connector.host,
      port: connector.port,
      user: connector.user,
      ssl: connector.tls.ssl,
      stream,
    },
    connect: (open) =>
      connector.connect(async () => {
        failure = undefined;
        try {
          return await open();
        } catch (err) {
          throw failure ?? err;
        }
      }),
  };
}
