import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';

/**
 * The contract between the emulator's listener (emulator.ts) and its two wire-protocol front ends
 * (postgres.ts, mysql.ts). Each front end exports one function:
 *
 *   export function handlePostgresConnection(socket: net.Socket, ctx: ConnectionContext): void
 *   export function handleMysqlConnection(socket: net.Socket, ctx: ConnectionContext): void
 *
 * The front end owns the socket from then on: it speaks the protocol up to authentication, asks
 * `ctx.verify` about the token, reports the result through `ctx.onLogin`, then dials upstream and
 * relays bytes both ways until either side closes. It must never throw out of a socket callback, must
 * destroy both sockets on any error, and must clear every timer it starts.
 */
export interface ConnectionContext {
  /** TLS for the client side: the emulator's generated server certificate. */
  readonly secureContext: SecureContext;
  /** When true, a login whose password arrived without TLS is rejected (reason `tls-required`). */
  readonly requireTls: boolean;
  /**
   * When true (the emulator's default, unless `allowNonIamUsers`), an accepted token's user must be
   * one RDS takes tokens from, or the login is refused as RDS refuses it (reason `not-iam-user`). PostgreSQL: a member of `rds_iam` upstream, checked in
   * the upstream session before the client gets AuthenticationOk. MySQL with trust upstream: a user
   * upstream lets in without a password.
   */
  readonly requireIamGrant?: boolean;
  /** The real database behind the emulator. */
  readonly upstream: UpstreamTarget;
  /**
   * Checks a token presented as the password of `user`. Synchronous and pure apart from reading the
   * emulator's clock and its "reject next N" control. Never throws. `client` is where the login came
   * from, for the IAM policy's request context (`aws:SourceIp`, `aws:SecureTransport`).
   */
  verify(token: string, user: string, client?: LoginClient): VerifyResult;
  /** Called once per login attempt that reached a verdict (accepted or rejected). */
  onLogin(result: VerifyResult): void;
  /**
   * Milliseconds a client may take from connect to a complete login before it is dropped (stalled
   * handshakes). The front end arms one timer with this and clears it on success or close.
   */
  readonly handshakeTimeoutMs: number;
  /** Largest packet / message a client may send before authentication; larger is hostile. */
  readonly maxHandshakePacketBytes: number;
  /** Server version string to announce (MySQL greeting); PostgreSQL relays upstream's. */
  readonly serverVersion?: string;
  /**
   * Optional: a front end hands every socket it opens to upstream to this, so that the emulator's
   * `stop()` destroys those too and waits for them to close. Front ends that don't call it still
   * work (they destroy upstream sockets when the client socket closes).
   */
  trackSocket?(socket: Socket): void;
}

/**
 * The client of one login as the front end sees it.
 * @example
 * ```ts
 * const client: LoginClient = { address: socket.remoteAddress, tls: true };
 * ```
 */
export interface LoginClient {
  /** The client's address (`::ffff:`-prefixed IPv4 is read as IPv4). */
  readonly address?: string | undefined;
  /** Whether the password arrived over TLS. */
  readonly tls: boolean;
}

/**
 * Where and how the emulator logs in to the real server, as the same user the client logged in as.
 * @example
 * ```ts
 * const upstream: UpstreamTarget = { host: '127.0.0.1', port: 5432, auth: { kind: 'trust' } };
 * ```
 */
export interface UpstreamTarget {
  readonly host: string;
  readonly port: number;
  /**
   * `trust`: log in upstream with no password (local PostgreSQL trust auth, MariaDB users without a
   * password). `password`: use `password` (cleartext, md5 or SCRAM for PostgreSQL;
   * mysql_native_password for MySQL/MariaDB).
   */
  readonly auth:
    | { readonly kind: 'trust' }
    | { readonly kind: 'password'; readonly password: string };
  /** Upstream user override; by default the client's login user. */
  readonly user?: string;
}

/**
 * Why a token was refused. Stable strings: tests and counters key on them.
 * @example
 * ```ts
 * const reason: RejectReason = 'expired';
 * expect(emulator.counters().rejectedByReason[reason]).toBe(1);
 * ```
 */
export type RejectReason =
  | 'malformed'
  | 'bad-signature'
  | 'wrong-user'
  | 'wrong-host'
  | 'wrong-port'
  | 'wrong-region'
  | 'wrong-service'
  | 'wrong-action'
  | 'expired'
  | 'not-yet-valid'
  | 'lifetime-too-long'
  | 'unknown-access-key'
  | 'credentials-expired'
  | 'bad-session-token'
  | 'tls-required'
  | 'injected'
  | 'rate-limited'
  /**
   * The token is valid but the signing key's IAM policies (`EmulatorCredentials.policies`) do not
   * allow `rds-db:connect` on the login's dbuser ARN.
   */
  | 'not-authorized'
  /**
   * With `requireIamGrant`: PostgreSQL, the user is not a member of `rds_iam` upstream; MySQL, the
   * user has a password upstream (or is missing). RDS would not take a token from it.
   */
  | 'not-iam-user'
  /**
   * The token was good, but the upstream server refused the session (no such role or database, a
   * wrong upstream password): the login's final outcome is that refusal.
   */
  | 'upstream-refused'
  /** The token was good, but the upstream server could not be reached or did not answer. */
  | 'upstream-unreachable';

/**
 * The verdict on one login: accepted (with the access key that signed the token) or refused with a
 * {@link RejectReason} and a detail that never contains the signature or session token.
 * @example
 * ```ts
 * const result: VerifyResult = verify(token, 'app');
 * if (!result.ok) console.log(result.reason, result.detail);
 * ```
 */
export type VerifyResult =
  | { readonly ok: true; readonly user: string; readonly accessKeyId: string }
  | {
      readonly ok: false;
      readonly user: string;
      readonly reason: RejectReason;
      readonly detail: string;
    };
