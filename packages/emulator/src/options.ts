import type { CertificateAuthorityPem } from './certificate.js';
import type { RejectReason, UpstreamTarget } from './context.js';
import type { EmulatorIamOptions } from './iam-options.js';
import type { EmulatorCredentials, EndpointAddress } from './verify.js';

/**
 * The wire protocol the emulator speaks.
 * @example
 * ```ts
 * const engine: EmulatorEngine = 'postgres';
 * ```
 */
export type EmulatorEngine = 'postgres' | 'mysql';

/**
 * Where the emulator logs in after a token checks out, as an object.
 * @example
 * ```ts
 * const upstream: UpstreamOptions = {
 *   host: '127.0.0.1', port: 5432, user: 'app', auth: { kind: 'password', password: 'secret' },
 * };
 * ```
 */
export interface UpstreamOptions {
  readonly host: string;
  readonly port: number;
  /** Default `{ kind: 'trust' }`: log in upstream without a password. */
  readonly auth?: UpstreamTarget['auth'];
  /** Log in upstream as this user instead of the client's login user. */
  readonly user?: string;
}

/**
 * Options of {@link startEmulator}.
 * @example
 * ```ts
 * const options: EmulatorOptions = {
 *   engine: 'postgres',
 *   upstream: 'postgres://127.0.0.1:5432',
 *   endpoint: { host: 'mydb.abc123.us-east-1.rds.amazonaws.com', port: 5432 },
 *   maxNewConnectionsPerSecond: 200,
 * };
 * const emulator = await startEmulator(options);
 * ```
 */
export interface EmulatorOptions {
  /** `postgres` (also Aurora PostgreSQL, RDS Proxy for PostgreSQL) or `mysql` (also MariaDB). */
  readonly engine: EmulatorEngine;
  /**
   * The real server behind the emulator: `postgres://[user[:password]@]host:port` /
   * `mysql://[user[:password]@]host:port`, or an object. A password in the URL means password
   * auth upstream, else trust; a user means every login goes upstream as that user.
   */
  readonly upstream: string | UpstreamOptions;
  /** Listen address. Default `127.0.0.1`. */
  readonly host?: string;
  /** Listen port. Default 0: an ephemeral port (read it from the handle). */
  readonly port?: number;
  /**
   * The RDS endpoint tokens must be signed for (what clients pass as `signingHost` /
   * `signingPort`, or the hostname they dial through a tunnel). Default: the listen host and port.
   * A port of 0 means the listen port.
   */
  readonly endpoint?: { readonly host: string; readonly port?: number };
  /** Region of the emulated endpoint. Default `us-east-1`. */
  readonly region?: string;
  /**
   * Accepted access keys. Default `[DEMO_CREDENTIALS]`. A key with `policies` may log in only as the
   * users they allow (see {@link EmulatorCredentials.policies}).
   */
  readonly credentials?: readonly EmulatorCredentials[];
  /** AWS account id of the emulated database, in the dbuser ARN policies are evaluated for. Default {@link DEFAULT_ACCOUNT_ID}. */
  readonly accountId?: string;
  /**
   * Resource id of the emulated database (`db-...`, `cluster-...`, `prx-...`), in the dbuser ARN.
   * Default {@link DEFAULT_RESOURCE_ID}.
   */
  readonly resourceId?: string;
  /**
   * Called once per login that reached a verdict: the user, accepted or the reason. Never given the
   * token. For a log line per login.
   */
  readonly onLogin?: (login: EmulatorLogin) => void;
  /**
   * Called once, soon after start, when the upstream server does not answer a TCP connection
   * (within `handshakeTimeoutMs`, at most 5 s): the emulator runs anyway, and every login fails with
   * `upstream-unreachable` until upstream answers. For a warning line at start-up.
   */
  readonly onWarning?: (message: string) => void;
  /** Refuse logins without TLS (as RDS does for IAM users). Default true. */
  readonly requireTls?: boolean;
  /**
   * Let in users RDS would not take a token from. By default the emulator is as strict as RDS and
   * refuses a valid token for such a user (reason `not-iam-user`): PostgreSQL, a user that is not a
   * member of `rds_iam` upstream (`password authentication failed`: the seed's `GRANT rds_iam TO
   * user` matters); MySQL / MariaDB with a password-less upstream URL, a user the emulator cannot log
   * in as without a password (it has one instead of the IAM plugin, or does not exist: RDS's 1045).
   * `true` relaxes exactly that, for an upstream whose users are not set up as on RDS. Not checked
   * when `upstream` names a user: every login then goes upstream as that one user.
   */
  readonly allowNonIamUsers?: boolean;
  /**
   * @deprecated The emulator requires the grant by default now. `false` is `allowNonIamUsers: true`;
   * `true` changes nothing.
   */
  readonly requireIamGrant?: boolean;
  /** Initial clock offset in ms: the emulator's clock is `Date.now() + offset`. Default 0. */
  readonly clockOffsetMs?: number;
  /** A client must complete its login within this many ms. Default 10 000. */
  readonly handshakeTimeoutMs?: number;
  /** Largest packet a client may send before authentication. Default 65 536. */
  readonly maxHandshakePacketBytes?: number;
  /** New logins per second above which logins are rejected with `rate-limited`. Default: none. */
  readonly maxNewConnectionsPerSecond?: number;
  /** Extra subject alternative names for the TLS certificate (the endpoint host is added anyway). */
  readonly hostnames?: readonly string[];
  /** MySQL: the server version announced in the greeting. */
  readonly serverVersion?: string;
  /**
   * Issue the TLS server certificate from this CA instead of generating a new CA: pass
   * `certificateAuthority` of an earlier run so that clients which trust its `caPem` keep trusting
   * the emulator after a restart. Checked before anything listens: a `TypeError` if a PEM is missing
   * or unreadable, the certificate is not a currently valid CA, or the key does not match it. The
   * key is a test-only secret. Default: a new CA per start.
   * @example
   * ```ts
   * const first = await startEmulator({ engine: 'postgres', upstream, port: 15432 });
   * const ca = first.certificateAuthority;
   * await first.stop();
   * const again = await startEmulator({ engine: 'postgres', upstream, port: 15432, certificateAuthority: ca });
   * // again.caPem === first.caPem
   * ```
   */
  readonly certificateAuthority?: CertificateAuthorityPem;
}

/**
 * The account id the emulator uses by default in dbuser ARNs: the documentation example account.
 * @example
 * ```ts
 * const arn = `arn:aws:rds-db:us-east-1:${DEFAULT_ACCOUNT_ID}:dbuser:${DEFAULT_RESOURCE_ID}/app`;
 * ```
 */
export const DEFAULT_ACCOUNT_ID = '123456789012';

/**
 * The resource id the emulator uses by default in dbuser ARNs, shaped like an instance's
 * `DbiResourceId`.
 * @example
 * ```ts
 * const arn = `arn:aws:rds-db:us-east-1:${DEFAULT_ACCOUNT_ID}:dbuser:${DEFAULT_RESOURCE_ID}/app`;
 * ```
 */
export const DEFAULT_RESOURCE_ID = 'db-EMULATOR0000000000000000';

/**
 * One login's verdict, as `onLogin` reports it: no token text, ever.
 * @example
 * ```ts
 * const onLogin = (l: EmulatorLogin) =>
 *   console.log(`${l.user}: ${l.accepted ? 'accepted' : `${l.reason} (${l.detail})`}`);
 * ```
 */
export type EmulatorLogin =
  | { readonly accepted: true; readonly user: string; readonly accessKeyId: string }
  | {
      readonly accepted: false;
      readonly user: string;
      readonly reason: RejectReason;
      readonly detail: string;
    };

/**
 * Login and connection counts since start (or the last `resetCounters()`).
 * @example
 * ```ts
 * const { accepted, rejectedByReason } = emulator.counters();
 * console.log(accepted, rejectedByReason.expired ?? 0);
 * ```
 */
export interface EmulatorCounters {
  /** Logins whose token was accepted. */
  readonly accepted: number;
  /** Logins refused, for any reason. */
  readonly rejected: number;
  /** Refused logins by {@link RejectReason}. */
  readonly rejectedByReason: Readonly<Partial<Record<RejectReason, number>>>;
  /** TCP connections accepted by the listener. */
  readonly connectionsOpened: number;
  /** Client connections open right now (not reset by `resetCounters()`). */
  readonly connectionsActive: number;
  /**
   * Distinct tokens among accepted logins, told apart by their `X-Amz-Signature`: how many tokens
   * the clients minted and used, counted on the server side whatever the client library. Logins
   * that reuse a cached token add to `accepted` but not here. The emulator keeps one signature
   * (64 characters) per distinct token until `resetCounters()`, so memory grows with the tokens
   * accepted since the last reset (about 100 bytes each); reset between benchmark runs.
   * @example
   * ```ts
   * emulator.resetCounters();
   * await runWorkload();
   * const { accepted, distinctTokens } = emulator.counters();
   * console.log(`${accepted} logins with ${distinctTokens} tokens`);
   * ```
   */
  readonly distinctTokens: number;
}

/**
 * A running emulator.
 * @example
 * ```ts
 * const emulator: Emulator = await startEmulator({ engine: 'mysql', upstream: 'mysql://root@127.0.0.1:3306' });
 * emulator.advanceClock(16 * 60_000); // every token minted before now is expired
 * emulator.rejectNextLogins(1);
 * await emulator.stop();
 * ```
 */
export interface Emulator {
  readonly engine: EmulatorEngine;
  /** The address it listens on. */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** The endpoint tokens must be signed for. */
  readonly endpoint: EndpointAddress;
  readonly region: string;
  /** The account id in the dbuser ARN policies are evaluated for. */
  readonly accountId: string;
  /** The resource id in the dbuser ARN policies are evaluated for. */
  readonly resourceId: string;
  /** The dbuser ARN a login as `user` needs `rds-db:connect` on. */
  dbUserArn(user: string): string;
  /** PEM of the CA that signed the emulator's TLS certificate: what clients trust. */
  readonly caPem: string;
  /**
   * The CA in use, certificate (`certPem`, equal to `caPem`) and private key (`keyPem`, PKCS#8),
   * to pass as the `certificateAuthority` option of a later start so that clients trusting
   * `caPem` keep trusting it. `keyPem` is a test-only secret: anyone holding it can issue
   * certificates those clients accept; never add this CA to a system trust store.
   * @example
   * ```ts
   * const { certPem, keyPem } = emulator.certificateAuthority;
   * writeFileSync('emulator-ca.pem', certPem);
   * writeFileSync('emulator-ca.key', keyPem, { mode: 0o600 });
   * ```
   */
  readonly certificateAuthority: CertificateAuthorityPem;
  /** Closes the listener and destroys every live connection; resolves when all are closed. */
  stop(): Promise<void>;
  /** Login and connection counts. */
  counters(): EmulatorCounters;
  /** Zeroes the login counts, `distinctTokens` (forgetting the signatures) and `connectionsOpened`. */
  resetCounters(): void;
  /** Sets the clock offset (ms): the emulator's clock is `Date.now() + ms`. */
  setClockOffset(ms: number): void;
  /** Moves the clock forward (or back, if negative) by `ms`. */
  advanceClock(ms: number): void;
  /** Rejects the next `n` logins, whatever their token, with reason `injected`. */
  rejectNextLogins(n: number): void;
  /** Sets or (with `undefined`) removes the limit of new logins per second. */
  setRateLimit(perSecond: number | undefined): void;
  /** Accepts tokens signed with these credentials too (replacing an entry with the same key id). */
  addCredentials(credentials: EmulatorCredentials): void;
  /** Stops accepting tokens signed with this access key (keys rotated, a session revoked). */
  removeCredentials(accessKeyId: string): void;
  /** A connection URL without password, for the listen address: `postgres://user@host:port/db`. */
  url(user: string, database?: string): string;
  /**
   * The rds-iam options that log in here (`signingHost`, `signingPort`, `region`, `credentials` of
   * the accepted key `accessKeyId`, default the first one, and `ssl: { ca }`): spread them into any
   * integration's options next to `host: emulator.host, port: emulator.port, user`.
   * @throws {TypeError} when no accepted key has that id.
   * @example
   * ```ts
   * const pool = createPool({ host: emulator.host, port: emulator.port, user: 'app', ...emulator.iamOptions() });
   * ```
   */
  iamOptions(accessKeyId?: string): EmulatorIamOptions;
}
