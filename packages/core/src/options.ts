import type { AwsCredentials, AwsCredentialsProvider } from './credentials.js';
import { RdsIamError } from './errors.js';
import type { TokenEvent } from './events.js';
import type { SignFunction } from './sign.js';

/** Database engines, for their default ports. */
export type Engine = 'postgres' | 'mysql';

/** The default port of each engine. */
export const DEFAULT_PORTS: Readonly<Record<Engine, number>> = { postgres: 5432, mysql: 3306 };

/**
 * Options of {@link createTokenProvider}. Every rds-iam integration accepts these next to its driver's
 * own options.
 */
export interface TokenProviderOptions {
  /** The host the client dials: an RDS, Aurora or RDS Proxy endpoint, or a tunnel or alias of one. */
  host: string;
  /** The port dialled. Defaults to the engine's (5432 PostgreSQL, 3306 MySQL). */
  port?: number;
  /** Only used for the default port. */
  engine?: Engine;
  /** The database user, which must have IAM authentication enabled. */
  user: string;
  /**
   * The signing region. Defaults to the region in an RDS hostname, else `AWS_REGION`,
   * `AWS_DEFAULT_REGION`, then the `region` of the shared-config profile.
   */
  region?: string;
  /**
   * Sign for this endpoint instead of `host`: when you dial a CNAME, an SSH tunnel, a local port
   * forward or an IP, the token must still name the RDS endpoint.
   */
  signingHost?: string;
  /** The port the token names. Defaults to `port`. */
  signingPort?: number;
  /**
   * AWS credentials, or a function that returns them (any AWS SDK v3 credential provider). Defaults
   * to the SDK's default chain (environment, SSO, web identity, shared files, ECS, EC2), created once
   * per profile for the whole process.
   */
  credentials?: AwsCredentials | AwsCredentialsProvider;
  /** The shared-config profile for the default chain and the region. */
  profile?: string;
  /** Never hand out a token with less than this left, in ms. Default 60 000. */
  expiryMarginMs?: number;
  /**
   * How long a caller waits for the credential source (environment, container agent, instance
   * metadata, SSO, STS, your `credentials` function) before `getToken()` rejects with
   * `ERR_CREDENTIALS_TIMEOUT`, in ms. The request is then abandoned, the usual backoff applies, and the
   * next mint asks again. Default 5 000: above the SDK's own worst case for a slow but healthy source
   * (about 3 s of retries against the container or metadata endpoint), below the pool timeouts that
   * would otherwise fire first without saying why (mysql2's 10 s `connectTimeout`, knex's 60 s
   * acquire timeout).
   */
  credentialsTimeoutMs?: number;
  /**
   * Inside this many ms of expiry, hand out the current token and mint a new one in the background.
   * Default 300 000.
   */
  refreshAheadMs?: number;
  /** Reports mints, cache hits, failed refreshes, invalidations and errors; never token text. */
  onEvent?: (event: TokenEvent) => void;
  /** The wall clock, in ms since the epoch. For tests; default `Date.now`. */
  now?: () => number;
  /**
   * Replaces the signer: for tests, or another kind of token. It receives the signing endpoint, the
   * signing time and, when `credentials` is given or `sign` is not, the resolved credentials.
   */
  sign?: SignFunction;
}

/** The options after validation, with defaults applied (the region may still be pending). */
export interface ResolvedOptions {
  host: string;
  port: number;
  user: string;
  signingHost: string;
  signingPort: number;
  region: string | undefined;
  profile: string | undefined;
  expiryMarginMs: number;
  refreshAheadMs: number;
  credentialsTimeoutMs: number;
}

/** The default of `credentialsTimeoutMs`; see the option for why. */
export const DEFAULT_CREDENTIALS_TIMEOUT_MS = 5_000;

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const HOSTNAME =
  /^(?=.{1,253}\.?$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.?$/i;
const IPV6 = /^\[?[0-9a-f:.]+(%[\w.-]+)?\]?$/i;

/**
 * Validates a host option. Runs before any network call so that a typo fails at start-up with a
 * message that says which option and how to fix it.
 */
export function validateHost(value: unknown, option = 'host'): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new RdsIamError(
      'ERR_INVALID_HOST',
      `rds-iam: \`${option}\` is ${value === undefined ? 'missing' : 'empty or not a string'}. Set it to the database endpoint, e.g. 'mydb.abc123.us-east-1.rds.amazonaws.com'.`,
    );
  }
  const host = value.trim();
  if (SCHEME.test(host)) {
    throw new RdsIamError(
      'ERR_INVALID_HOST',
      `rds-iam: \`${option}\` must be a bare hostname, not a URL ('${host.replace(/[?#].*/, '')}'). Remove the scheme, e.g. 'mydb.abc123.us-east-1.rds.amazonaws.com'.`,
    );
  }
  if (!HOSTNAME.test(host) && !IPV6.test(host)) {
    throw new RdsIamError(
      'ERR_INVALID_HOST',
      `rds-iam: \`${option}\` '${host.slice(0, 100)}' is not a hostname or IP address. Pass the port in \`${option === 'signingHost' ? 'signingPort' : 'port'}\` and nothing but the name in \`${option}\`.`,
    );
  }
  return host;
}

/** Validates a port option: an integer from 1 to 65535 (numeric strings are accepted). */
export function validatePort(value: unknown, option = 'port'): number {
  const port = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new RdsIamError(
      'ERR_INVALID_PORT',
      `rds-iam: \`${option}\` must be an integer from 1 to 65535, got ${describeValue(value)}. Use the endpoint's port (5432 for PostgreSQL, 3306 for MySQL).`,
    );
  }
  return port;
}

function validateMs(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`${option}\` must be a number of milliseconds >= 0, got ${describeValue(value)}.`,
    );
  }
  return value;
}

function validateFunction(value: unknown, option: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`${option}\` must be a function, got ${describeValue(value)}.`,
    );
  }
}

/** What an access key id looks like, and the usual mistakes; said after {@link accessKeyIdProblem}. */
export const ACCESS_KEY_ID_RULE =
  "An AWS access key id is letters and digits only (such as AKIA... or ASIA...): check that it is not the secret access key (which has '/' and '+') and that no quote, space or line break came along with it.";

/**
 * What is wrong with an access key id, checked before signing: a token signed with it would not
 * parse as an RDS IAM auth token (and no AWS key looks like that). Never quotes the value, which may
 * be a secret key given in the wrong place. `undefined` when it is well-formed.
 *
 * @example
 * ```ts
 * accessKeyIdProblem('wJalrXUtnFEMI/K7MDENG'); // "contains '/'"
 * ```
 */
export function accessKeyIdProblem(accessKeyId: string): string | undefined {
  if (accessKeyId === '') return 'is empty';
  const bad = /[^A-Za-z0-9_-]/.exec(accessKeyId)?.[0];
  if (bad === undefined) return undefined;
  if (bad === ' ') return 'contains a space';
  if (/\s/.test(bad)) return 'contains a line break or tab';
  if (bad > '\u007f') return 'contains a non-ASCII character';
  return `contains '${bad}'`;
}

/** Describes a bad option value for a message without echoing long or secret strings. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 40 ? `a ${value.length}-character string` : `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null)
    return String(value);
  const kind = Array.isArray(value) ? 'array' : typeof value;
  return `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}

/** Token lifetime RDS accepts, and what we sign for. */
export const TOKEN_LIFETIME_MS = 900_000;

/**
 * Checks every option that can be checked without I/O and applies the defaults.
 *
 * @throws {RdsIamError} `ERR_INVALID_HOST`, `ERR_INVALID_PORT`, `ERR_INVALID_USER`, `ERR_INVALID_OPTION`.
 */
export function resolveOptions(options: TokenProviderOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: options must be an object with at least `host` and `user`.',
    );
  }
  const host = validateHost(options.host);
  if (options.engine !== undefined && !(options.engine in DEFAULT_PORTS)) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`engine\` must be 'postgres' or 'mysql', got ${describeValue(options.engine)}.`,
    );
  }
  if (options.port === undefined && options.engine === undefined) {
    throw new RdsIamError(
      'ERR_INVALID_PORT',
      'rds-iam: `port` is missing. Set `port` (5432 for PostgreSQL, 3306 for MySQL) or `engine`.',
    );
  }
  const port =
    options.port === undefined
      ? DEFAULT_PORTS[options.engine as Engine]
      : validatePort(options.port);
  if (typeof options.user !== 'string' || options.user.trim() === '') {
    throw new RdsIamError(
      'ERR_INVALID_USER',
      `rds-iam: \`user\` is ${options.user === undefined ? 'missing' : 'empty or not a string'}. Set it to the database user that has IAM authentication enabled (PostgreSQL: GRANT rds_iam TO u; MySQL: IDENTIFIED WITH AWSAuthenticationPlugin).`,
    );
  }
  const signingHost =
    options.signingHost === undefined ? host : validateHost(options.signingHost, 'signingHost');
  const signingPort =
    options.signingPort === undefined ? port : validatePort(options.signingPort, 'signingPort');
  if (options.region !== undefined && !/^[a-z]{2,}(-[a-z0-9]+)+-\d+$/.test(options.region)) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`region\` ${describeValue(options.region)} is not an AWS region name such as 'us-east-1'.`,
    );
  }
  if (options.profile !== undefined && (typeof options.profile !== 'string' || !options.profile)) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`profile\` must be a non-empty string, got ${describeValue(options.profile)}.`,
    );
  }
  const credentials = options.credentials;
  if (
    credentials !== undefined &&
    typeof credentials !== 'function' &&
    (typeof credentials !== 'object' ||
      credentials === null ||
      typeof credentials.accessKeyId !== 'string' ||
      typeof credentials.secretAccessKey !== 'string')
  ) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: `credentials` must be `{ accessKeyId, secretAccessKey, sessionToken? }` or a credential provider function (e.g. fromNodeProviderChain() from @aws-sdk/credential-providers).',
    );
  }
  const keyProblem =
    credentials !== undefined && typeof credentials !== 'function'
      ? accessKeyIdProblem(credentials.accessKeyId)
      : undefined;
  if (keyProblem) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`credentials.accessKeyId\` ${keyProblem}. ${ACCESS_KEY_ID_RULE}`,
    );
  }
  validateFunction(options.onEvent, 'onEvent');
  validateFunction(options.now, 'now');
  validateFunction(options.sign, 'sign');
  const expiryMarginMs = validateMs(options.expiryMarginMs, 'expiryMarginMs', 60_000);
  const refreshAheadMs = validateMs(options.refreshAheadMs, 'refreshAheadMs', 300_000);
  const credentialsTimeoutMs = validateMs(
    options.credentialsTimeoutMs,
    'credentialsTimeoutMs',
    DEFAULT_CREDENTIALS_TIMEOUT_MS,
  );
  if (credentialsTimeoutMs === 0 || credentialsTimeoutMs > 2 ** 31 - 1) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`credentialsTimeoutMs\` must be from 1 to 2147483647 ms, got ${credentialsTimeoutMs}. The default is ${DEFAULT_CREDENTIALS_TIMEOUT_MS}.`,
    );
  }
  if (expiryMarginMs >= TOKEN_LIFETIME_MS - 60_000) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`expiryMarginMs\` (${expiryMarginMs}) leaves less than a minute of a 15-minute token. Use at most 840000; the default is 60000.`,
    );
  }
  return {
    host,
    port,
    user: options.user,
    signingHost: signingHost.replace(/\.$/, ''),
    signingPort,
    region: options.region,
    profile: options.profile,
    expiryMarginMs,
    refreshAheadMs: Math.max(refreshAheadMs, expiryMarginMs),
    credentialsTimeoutMs,
  };
}
