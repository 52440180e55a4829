import { RdsIamError } from './errors.js';

/**
 * What an IAM auth token says about itself, read from its text. Nothing here is secret: the signature
 * and the session token are left out.
 *
 * @example
 * ```ts
 * const info: AuthTokenInfo = parseAuthToken(token);
 * console.log(`${info.user}@${info.host}:${info.port} in ${info.region}, valid until ${info.expiresAt.toISOString()}`);
 * ```
 */
export interface AuthTokenInfo {
  /** The host the token was signed for, as written in the token (the signer keeps its case). */
  host: string;
  /** The port the token was signed for. */
  port: number;
  /** The database user (`DBUser`), URL-decoded. */
  user: string;
  /** The signing region, from the credential scope. */
  region: string;
  /** The signing service from the credential scope: `rds-db` for RDS. */
  service: string;
  /** The access key id that signed the token (not a secret). */
  accessKeyId: string;
  /** When the token was signed (`X-Amz-Date`). */
  issuedAt: Date;
  /**
   * `X-Amz-Date + X-Amz-Expires`. The token can die earlier, when the credentials that signed it
   * expire; the token does not say when that is.
   */
  expiresAt: Date;
  /** `X-Amz-Expires`: 900 for tokens from `@aws-sdk/rds-signer`. */
  lifetimeSeconds: number;
  /** Whether temporary credentials signed it (an `X-Amz-Security-Token` is present). */
  hasSessionToken: boolean;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
// SigV4 refuses presigned URLs that live longer than seven days.
const MAX_EXPIRES_SECONDS = 604_800;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const HOSTNAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]+\]$/;
const PORT = /^\d{1,5}$/;
const SIGNATURE = /^[0-9a-f]{64}$/;
const REGION = /^[a-z0-9-]+$/;
const SHAPE = "a token looks like 'host:port/?Action=connect&DBUser=...&X-Amz-Signature=...'";

/**
 * Reads host, port, user, region, access key id and lifetime from an RDS IAM auth token, as returned by
 * `@aws-sdk/rds-signer`'s `getAuthToken()` (`host:port/?Action=connect&DBUser=...`). The token is not
 * verified (that needs the secret key); its shape is. Also accepted: a leading `https://`, and a token
 * URL-encoded once more, as it appears inside a connection URL.
 *
 * @throws {RdsIamError} `ERR_INVALID_TOKEN` when the text is not such a token; the message says what is
 * missing or wrong and never quotes the text.
 *
 * @example
 * ```ts
 * const { expiresAt, user, region } = parseAuthToken(await signer.getAuthToken());
 * if (expiresAt.getTime() - Date.now() < 60_000) console.warn(`token for ${user} (${region}) expires soon`);
 * ```
 */
export function parseAuthToken(token: string): AuthTokenInfo {
  if (typeof token !== 'string') {
    return invalid(`expected a string, got ${token === null ? 'null' : typeof token}`);
  }
  const size = `${token.length} characters`;
  let text = token.trim();
  if (text === '') return invalid('the token is empty');
  // Inside a connection URL the whole token is percent-encoded once more: its `?` shows as `%3F`.
  if (!text.includes('?') && /%3F/i.test(text)) {
    const decoded = decodeOrUndefined(text);
    if (decoded === undefined) return invalid(`it is not valid percent-encoding (${size})`);
    text = decoded;
  }
  if (/^https:\/\//i.test(text)) text = text.slice('https://'.length);

  const query = text.indexOf('?');
  if (query < 0) return invalid(`it has no query string (${size}); ${SHAPE}`);
  const { host, port } = readAuthority(text.slice(0, query), size);
  const params = readQuery(text.slice(query + 1), size);

  const action = params.get('Action');
  if (action !== 'connect') {
    return invalid(
      action === undefined ? 'Action is missing' : 'Action is not `connect` (not a login token)',
    );
  }
  const user = params.get('DBUser');
  if (user === undefined || user === '') return invalid('DBUser is missing or empty');
  if (params.get('X-Amz-Algorithm') !== ALGORITHM) {
    return invalid(`X-Amz-Algorithm is missing or not ${ALGORITHM}`);
  }
  const issuedAt = readAmzDate(params.get('X-Amz-Date'));
  const lifetimeSeconds = readExpires(params.get('X-Amz-Expires'));
  const { accessKeyId, region, service } = readCredential(params.get('X-Amz-Credential'), issuedAt);
  const signedHeaders = params.get('X-Amz-SignedHeaders');
  if (signedHeaders === undefined || !signedHeaders.split(';').includes('host')) {
    return invalid('X-Amz-SignedHeaders is missing or does not include `host`');
  }
  const signature = params.get('X-Amz-Signature');
  if (signature === undefined || !SIGNATURE.test(signature)) {
    return invalid('X-Amz-Signature is missing or not 64 lower-case hex digits');
  }
  const sessionToken = params.get('X-Amz-Security-Token');
  if (sessionToken === '') return invalid('X-Amz-Security-Token is empty');

  return {
    host,
    port,
    user,
    region,
    service,
    accessKeyId,
    issuedAt,
    expiresAt: new Date(issuedAt.getTime() + lifetimeSeconds * 1000),
    lifetimeSeconds,
    hasSessionToken: sessionToken !== undefined,
  };
}

// Only the problem goes into the message, never the input: a malformed token can still hold a live
// signature or session token.
function invalid(problem: string): never {
  throw new RdsIamError(
    'ERR_INVALID_TOKEN',
    `rds-iam: the string is not an RDS IAM auth token: ${problem}.`,
  );
}

function decodeOrUndefined(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function readAuthority(authority: string, size: string): { host: string; port: number } {
  // The signer writes `host:port/`; the slash is optional here.
  const hostPort = authority.endsWith('/') ? authority.slice(0, -1) : authority;
  if (hostPort.includes('/')) {
    return invalid(`it has a path before the query string, where a token has only \`/\` (${size})`);
  }
  const colon = hostPort.lastIndexOf(':');
  if (colon < 0) return invalid(`it has no port before the query string (${size}); ${SHAPE}`);
  const host = hostPort.slice(0, colon);
  const portText = hostPort.slice(colon + 1);
  if (!HOSTNAME.test(host) && !IPV6_LITERAL.test(host)) {
    return invalid(`the part before the port is not a hostname (${size}); ${SHAPE}`);
  }
  const port = Number(portText);
  if (!PORT.test(portText) || port < 1 || port > 65_535) {
    return invalid('the port is not a number from 1 to 65535');
  }
  return { host, port };
}

function readQuery(query: string, size: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    // Decoded by hand: URLSearchParams would turn a literal `+` into a space.
    const name = decodeOrUndefined(equals < 0 ? pair : pair.slice(0, equals));
    const value = decodeOrUndefined(equals < 0 ? '' : pair.slice(equals + 1));
    if (name === undefined || value === undefined) {
      return invalid(`its query string is not valid percent-encoding (${size})`);
    }
    if (params.has(name)) return invalid(`the parameter ${describeName(name)} appears twice`);
    params.set(name, value);
  }
  return params;
}

// Parameter names are quoted only when they are one of ours; an unknown name is input text.
function describeName(name: string): string {
  return /^(?:Action|DBUser|X-Amz-[A-Za-z-]+)$/.test(name) && name.length <= 32
    ? name
    : 'with an unknown name';
}

function readAmzDate(value: string | undefined): Date {
  const match = value === undefined ? null : AMZ_DATE.exec(value);
  if (match === null) return invalid('X-Amz-Date is missing or not in the form YYYYMMDDTHHMMSSZ');
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 2025-02-30 over to March; a real signer never writes such a date.
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    date.getUTCHours() !== hour ||
    date.getUTCMinutes() !== minute ||
    date.getUTCSeconds() !== second
  ) {
    return invalid('X-Amz-Date is not a valid date and time');
  }
  return date;
}

function readExpires(value: string | undefined): number {
  if (value === undefined) return invalid('X-Amz-Expires is missing');
  const seconds = Number(value);
  if (!/^\d{1,7}$/.test(value) || seconds < 1 || seconds > MAX_EXPIRES_SECONDS) {
    return invalid(
      `X-Amz-Expires is not a whole number of seconds from 1 to ${MAX_EXPIRES_SECONDS}`,
    );
  }
  return seconds;
}

function readCredential(
  value: string | undefined,
  issuedAt: Date,
): { accessKeyId: string; region: string; service: string } {
  if (value === undefined) return invalid('X-Amz-Credential is missing');
  const parts = value.split('/');
  const [accessKeyId, date, region, service, terminator] = parts;
  if (
    parts.length !== 5 ||
    accessKeyId === undefined ||
    !/^[A-Za-z0-9_-]+$/.test(accessKeyId) ||
    date === undefined ||
    region === undefined ||
    !REGION.test(region) ||
    service === undefined ||
    !/^[a-z0-9-]+$/.test(service) ||
    terminator !== 'aws4_request'
  ) {
    return invalid('X-Amz-Credential is not ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request');
  }
  // SigV4 scopes the credential to the signing day; a mismatch means the token was pieced together.
  if (date !== issuedAt.toISOString().slice(0, 10).replaceAll('-', '')) {
    return invalid('the date in X-Amz-Credential is not the day of X-Amz-Date');
  }
  return { accessKeyId, region, service };
}
