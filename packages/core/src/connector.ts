import { isIP } from 'node:net';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { nodeTls } from './builtins.js';
import { parseRdsEndpoint } from './endpoint.js';
import { describeError, RdsIamError } from './errors.js';
import { type Engine, resolveOptions, type TokenProviderOptions } from './options.js';
import { type AbsentPassword, withoutPassword } from './password.js';
import type { TokenProvider } from './provider.js';
import { isAuthRejection, isTlsRequiredRefusal } from './rejection.js';
import { sharedTokenProvider } from './shared.js';
import { isLoopbackHost, rdsCaCertificates, readCaFile } from './tls.js';

/** The option names that belong to rds-iam; everything else is the driver's. */
export const IAM_OPTION_KEYS = [
  'region',
  'signingHost',
  'signingPort',
  'credentials',
  'profile',
  'expiryMarginMs',
  'refreshAheadMs',
  'credentialsTimeoutMs',
  'onEvent',
  'now',
  'sign',
  'tokenProvider',
] as const;

/** TLS options as every integration accepts them: Node's `tls.connect` options, plus `caFile`. */
export interface IamTlsOptions extends ConnectionOptions {
  /**
   * The path of a PEM file of CA certificates to verify the server with, instead of the RDS CAs: the
   * emulator's (`rds-iam emulator` prints it), a proxy's or a tunnel's. Read once, when the options
   * are built. Instead of `ca`, not with it.
   */
  caFile?: string;
}

/** The TLS setting every integration accepts as `ssl`. */
export type IamSslOption = boolean | IamTlsOptions | undefined;

/** Options every integration accepts: the core's, an optional ready provider, and `ssl`. */
export interface IamConnectionOptions extends TokenProviderOptions {
  /** Use this provider instead of the process-wide shared one for these options. */
  tokenProvider?: TokenProvider;
  /**
   * TLS. Default: verified against the RDS CAs with the signing host's name. An object is merged over
   * that default (so `{ ca }` or `{ caFile }` alone keeps hostname verification). `false` is allowed only towards
   * loopback (the emulator, a tunnel's local end): IAM tokens are sent as cleartext passwords.
   */
  ssl?: IamSslOption;
  /**
   * Nothing: the token is the password. An empty string or `null` (how configuration schemas and
   * environment files spell an unset password) is taken as none, so such a config can be spread in
   * as it is; any other value is refused with `ERR_CONFLICTING_OPTIONS`.
   */
  password?: AbsentPassword;
}

/**
 * rds-iam's options as an ORM takes them next to its own, which name the endpoint its own way
 * (`username`, `dbName`, ...): the core's, `tokenProvider`, `ssl` and the absent `password`.
 */
export type IamOrmOptions = Pick<
  IamConnectionOptions,
  (typeof IAM_OPTION_KEYS)[number] | 'ssl' | 'password'
>;

/**
 * Splits an integration's options into the core's and the driver's. `host`, `port` and `user` are
 * needed by both and stay in both.
 */
export function splitIamOptions<T extends object>(
  options: T,
): { iam: Partial<IamConnectionOptions>; rest: Omit<T, (typeof IAM_OPTION_KEYS)[number]> } {
  const iam: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if ((IAM_OPTION_KEYS as readonly string[]).includes(key)) iam[key] = value;
    else rest[key] = value;
  }
  return { iam, rest } as {
    iam: Partial<IamConnectionOptions>;
    rest: Omit<T, (typeof IAM_OPTION_KEYS)[number]>;
  };
}

/**
 * The signing endpoint of one endpoint of a replicated set (Sequelize's `replication`, MikroORM's
 * `replicas`): its own `signingHost` / `signingPort` when it gives them; else the top-level ones,
 * but only for an endpoint that dials the top-level host. A replica with a host of its own signs for
 * that host, since RDS checks the token against the endpoint it was signed for.
 *
 * @example
 * ```ts
 * const signing = replicaSigning(iam, replica, replica.host !== undefined);
 * ```
 */
export function replicaSigning(
  top: Pick<IamConnectionOptions, 'signingHost' | 'signingPort'>,
  own: Pick<IamConnectionOptions, 'signingHost' | 'signingPort'>,
  hasOwnHost: boolean,
): Pick<IamConnectionOptions, 'signingHost' | 'signingPort'> {
  return {
    signingHost: own.signingHost ?? (hasOwnHost ? undefined : top.signingHost),
    signingPort: own.signingPort ?? (hasOwnHost ? undefined : top.signingPort),
  };
}

/** How a connection must be secured, worked out once per pool. */
export interface IamTls {
  /** What to hand the driver as its `ssl` option, or `false` (loopback only). */
  readonly ssl: ConnectionOptions | false;
  /**
   * `ssl` plus one `secureContext` for every connection of the pool, built at the first one: Node
   * otherwise parses the CA list into a new context for each connection (about 20 ms of CPU with
   * every region's RDS CAs, 3 ms with one region's). Only for a driver handed this very object (pg's
   * `Pool`, `tls.connect`), never for an ORM's options: some deep-clone them (Sequelize, MikroORM),
   * and a cloned `SecureContext` crashes Node at the next handshake.
   */
  readonly sharedSsl: ConnectionOptions | false;
  /** The name the server certificate must carry, when there is one to check. */
  readonly identity: string | undefined;
  /** The region whose bundled RDS CAs verify the server, when those (not the caller's) are used. */
  readonly caRegion: string | undefined;
  /**
   * Checks a connected socket right before the token is sent, for drivers that cannot be told to
   * verify the name themselves (mysql2 with an IP host, the mariadb connector).
   *
   * @throws {RdsIamError} `ERR_TLS_REQUIRED` or `ERR_TLS_VERIFY`.
   */
  assertSecure(socket: unknown): void;
}

const TLS_VERIFY_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'HOSTNAME_MISMATCH',
]);

/**
 * The TLS settings for an IAM connection: verify-full against the RDS CAs by default (those of
 * `region` when it is known, see {@link rdsCaCertificates}), the user's own `ssl` merged over that,
 * and plaintext refused unless the host is loopback.
 *
 * `sharedSsl` is the same settings with one `secureContext` for the whole pool, for drivers given the
 * object itself. A caller's own `secureContext` wins.
 *
 * @throws {RdsIamError} `ERR_TLS_REQUIRED` for `ssl: false` towards a host that is not loopback.
 *
 * @example
 * ```ts
 * const tls = iamTls(host, signingHost, undefined, 'eu-west-1');
 * const pool = new pg.Pool({ host, user, password, ssl: tls.ssl === false ? false : { ...tls.ssl } });
 * ```
 */
export function iamTls(
  host: string,
  signingHost: string,
  ssl: IamSslOption,
  region?: string,
): IamTls {
  if (ssl === false) {
    if (!isLoopbackHost(host)) {
      throw new RdsIamError(
        'ERR_TLS_REQUIRED',
        `rds-iam: \`ssl: false\` towards '${host}' would send the IAM token as a cleartext password over the network. RDS requires TLS for IAM users; remove \`ssl: false\` (TLS is verified against the RDS CAs by default). Plaintext is allowed only towards loopback (an emulator or a tunnel's local end).`,
      );
    }
    return {
      ssl: false,
      sharedSsl: false,
      identity: undefined,
      caRegion: undefined,
      assertSecure: () => {},
    };
  }
  if (ssl !== undefined && ssl !== true && (typeof ssl !== 'object' || ssl === null)) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: `ssl` must be true, false (loopback only) or a tls.connect options object such as `{ ca }` or `{ caFile }`.',
    );
  }
  const user = withCaFile(typeof ssl === 'object' ? ssl : {});
  const caRegion = user.ca === undefined && user.secureContext === undefined ? region : undefined;
  // Check the certificate against the endpoint the token names: when dialling a tunnel or an alias,
  // the server still presents the RDS endpoint's certificate.
  const identity = user.servername ?? (isIP(signingHost) ? undefined : signingHost);
  const defaults: ConnectionOptions = {
    // The bundle is read only when it is used: a caller's own `ca` replaces it, and loading it costs a
    // cold start a few milliseconds.
    ...(user.ca === undefined ? { ca: [...rdsCaCertificates(region)] } : {}),
    rejectUnauthorized: true,
    ...(identity
      ? {
          servername: identity,
          checkServerIdentity: (_host: string, cert: PeerCertificate) =>
            nodeTls().checkServerIdentity(identity, cert),
        }
      : {}),
  };
  const merged: ConnectionOptions = { ...defaults, ...user };
  // TLS names a server by its DNS name only (RFC 6066): Node deprecates an IP address as
  // `servername` (DEP0123), Bun and Deno refuse it. An address given there is still what the
  // certificate is checked against (checkServerIdentity above); it just is not sent.
  if (typeof merged.servername === 'string' && isIP(merged.servername)) delete merged.servername;
  let fullHandshakeVerified = false;
  return {
    ssl: merged,
    sharedSsl: merged.secureContext === undefined ? withLazyContext(merged) : merged,
    identity,
    caRegion,
    assertSecure(socket) {
      const tlsSocket = socket as
        | { encrypted?: boolean; authorized?: boolean; getPeerCertificate?: () => PeerCertificate }
        | undefined;
      if (!tlsSocket?.encrypted) {
        throw new RdsIamError(
          'ERR_TLS_REQUIRED',
          `rds-iam: the connection to '${host}' is not encrypted, so the IAM token was not sent. Check that the server supports TLS (RDS always does) and that \`ssl\` is not disabled.`,
        );
      }
      if (merged.rejectUnauthorized === false) return;
      if (tlsSocket.authorized === false) {
        throw tlsVerifyError(host, identity, undefined, caRegion);
      }
      if (identity && tlsSocket.getPeerCertificate) {
        if ((tlsSocket as { isSessionReused?: () => boolean }).isSessionReused?.()) {
          if (fullHandshakeVerified) return;
          throw tlsVerifyError(
            host,
            identity,
            new Error('resumed session before any verified full handshake'),
            caRegion,
          );
        }
        const mismatch = nodeTls().checkServerIdentity(identity, tlsSocket.getPeerCertificate());
        fullHandshakeVerified = !mismatch;
        if (mismatch) throw tlsVerifyError(host, identity, mismatch, caRegion);
      }
    },
  };
}

/** `ssl` with its `caFile` read into `ca`. */
function withCaFile({ caFile, ...ssl }: IamTlsOptions): ConnectionOptions {
  if (caFile === undefined) return ssl;
  if (ssl.ca !== undefined) {
    throw new RdsIamError(
      'ERR_CONFLICTING_OPTIONS',
      'rds-iam: `ssl` has both `ca` and `caFile`. Pass one: `caFile` is read into `ca`.',
    );
  }
  return { ...ssl, ca: readCaFile(caFile) };
}

function tlsVerifyError(
  host: string,
  identity: string | undefined,
  cause: unknown,
  caRegion: string | undefined,
): RdsIamError {
  return new RdsIamError(
    'ERR_TLS_VERIFY',
    `rds-iam: the TLS certificate of '${host}'${identity && identity !== host ? ` (checked as '${identity}')` : ''} did not verify${cause ? `: ${describeError(cause)}` : ''}. RDS endpoints verify against the bundled RDS CAs${caRegion ? ` of their region (here ${caRegion}, from the endpoint name or the \`region\` option)` : ''}; for anything else (the rds-iam emulator, a proxy with its own certificate) pass its CA as \`ssl: { ca }\`, and when you dial a tunnel or alias set \`signingHost\` to the RDS endpoint name.`,
    { cause },
  );
}

/** A copy of `settings` whose `secureContext` is built from them on first read, once. */
function withLazyContext(settings: ConnectionOptions): ConnectionOptions {
  const shared = { ...settings };
  let context: ConnectionOptions['secureContext'];
  // A getter, so that a pool that never connects never builds it; enumerable, so that pg's
  // Object.assign and the spreads before tls.connect copy it.
  Object.defineProperty(shared, 'secureContext', {
    enumerable: true,
    get: () => {
      context ??= nodeTls().createSecureContext(settings);
      return context;
    },
  });
  return shared;
}

/** OpenSSL's and Node's wording of the certificate checks in TLS_VERIFY_CODES. */
const TLS_VERIFY_MESSAGE =
  /unable to verify the first certificate|self[- ]signed certificate|unable to get (?:local )?issuer certificate|certificate has expired|certificate is not yet valid|certificate not trusted|Hostname\/IP does not match certificate's altnames/i;

/** Whether a driver error is a failed certificate check. */
export function isTlsVerifyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  if (TLS_VERIFY_CODES.has(code)) return true;
  // mysql2 overwrites the TLS error's own code with HANDSHAKE_SSL_ERROR; its message is still OpenSSL's.
  const message = (err as { message?: unknown }).message;
  return (
    code === 'HANDSHAKE_SSL_ERROR' &&
    typeof message === 'string' &&
    TLS_VERIFY_MESSAGE.test(message)
  );
}

/** The socket of a connection being opened, as {@link IamConnector.password} may close it. */
export interface ClosableSocket {
  destroy(): unknown;
}

/**
 * What an integration needs per pool: a token for each new physical connection, the TLS settings,
 * and a connect wrapper that retries once with a fresh token after a server rejection.
 */
export interface IamConnector {
  readonly provider: TokenProvider;
  readonly tls: IamTls;
  /** The dialled host and port, and the user, after validation. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /**
   * A token for a new physical connection; remembered so a rejection drops exactly that one. Give
   * `socket` when the driver opened the connection before asking for its password (node-postgres,
   * mysql2): when no token can be had, it is closed at once, since a login left half-open keeps the
   * process alive until the server gives up on it (10 s to 60 s), whatever the driver does with the
   * error.
   */
  password(socket?: ClosableSocket): Promise<string>;
  /**
   * Tells the connector how a login with `token` ended, from a driver hook that sees its own
   * connection's handshake: an auth rejection drops that token, so the pool's next attempt (knex,
   * TypeORM, Prisma retry on their own) mints instead of failing again with the same token.
   */
  loginFailed(token: string, err: unknown): void;
  /**
   * Runs `connect`; after an auth rejection drops the token and runs it once more, never in a loop. A
   * second rejection, or a certificate failure, becomes an `RdsIamError` that says what to check.
   */
  connect<T>(connect: () => Promise<T>): Promise<T>;
  /**
   * Lets go of the shared token cache (its `onEvent` listener and its handle), for the integration's
   * `end()`. A `tokenProvider` passed in by the caller is left open: it is the caller's. Idempotent.
   */
  close(): void;
}

/**
 * Builds the connector an integration needs from the options it was given.
 *
 * @example
 * ```ts
 * const connector = createIamConnector({ host, port: 5432, user: 'app' }, 'postgres');
 * const pool = new pg.Pool({ host, user: 'app', password: connector.password, ssl: connector.tls.ssl });
 * ```
 */
export function createIamConnector(options: IamConnectionOptions, engine: Engine): IamConnector {
  const { tokenProvider, ssl, ...providerOptions } = withoutPassword(options);
  const resolved = resolveOptions({ engine, ...providerOptions });
  // The CAs of the database's region when it is certain: named in the option or the endpoint. Not
  // AWS_REGION, which is the caller's region and may not be the database's (a custom DNS name).
  const caRegion = resolved.region ?? parseRdsEndpoint(resolved.signingHost)?.region;
  const tls = iamTls(resolved.host, resolved.signingHost, ssl, caRegion);
  const provider = tokenProvider ?? sharedTokenProvider({ engine, ...providerOptions });
  let lastToken: string | undefined;
  const password = async (socket?: ClosableSocket): Promise<string> => {
    let token: string;
    try {
      token = await provider.getToken();
    } catch (err) {
      socket?.destroy();
      throw err;
    }
    lastToken = token;
    return token;
  };
  const describeTarget = `${resolved.user}@${resolved.signingHost}:${resolved.signingPort}`;
  return {
    provider,
    tls,
    host: resolved.host,
    port: resolved.port,
    user: resolved.user,
    password,
    loginFailed(token, err) {
      if (isAuthRejection(err)) provider.invalidate(token);
    },
    close() {
      if (!tokenProvider) provider.close();
    },
    async connect<T>(connect: () => Promise<T>): Promise<T> {
      try {
        return await connect();
      } catch (first) {
        if (isTlsVerifyError(first))
          throw tlsVerifyError(resolved.host, tls.identity, first, tls.caRegion);
        if (isTlsRequiredRefusal(first)) {
          throw new RdsIamError(
            'ERR_TLS_REQUIRED',
            `rds-iam: ${resolved.host}:${resolved.port} refused the connection because it was made without TLS (${describeError(first)}). IAM tokens are accepted only over TLS: remove \`ssl: false\` (TLS is verified against the RDS CAs by default; pass \`ssl: { ca }\` for the rds-iam emulator or a proxy with its own certificate).`,
            { cause: first },
          );
        }
        if (!isAuthRejection(first)) throw first;
        provider.invalidate(lastToken);
        try {
          return await connect();
        } catch (second) {
          if (!isAuthRejection(second)) throw second;
          provider.invalidate(lastToken);
          throw new RdsIamError(
            'ERR_AUTH_REJECTED',
            `rds-iam: the server rejected the IAM token for ${describeTarget} twice (${describeError(second)}). Check that the user exists with IAM authentication enabled (PostgreSQL: GRANT rds_iam; MySQL: IDENTIFIED WITH AWSAuthenticationPlugin), that the IAM policy allows rds-db:connect on this user and the instance's resource id, that the region is right, and that signingHost names the RDS endpoint when you dial a tunnel.`,
            { cause: second },
          );
        }
      }
    },
  };
}
