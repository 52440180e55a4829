import { timingSafeEqual } from 'node:crypto';
import type { PolicyInput } from '@rds-iam/policy';
import type { RejectReason, VerifyResult } from './context.js';
import {
  canonicalPresignedRequest,
  canonicalQueryString,
  deriveSigningKey,
  EMPTY_PAYLOAD_SHA256,
  hmacHex,
  SIGV4_ALGORITHM,
  stringToSign,
  UNSIGNED_PAYLOAD,
} from './sigv4.js';

/**
 * An access key the emulator accepts tokens from, like an IAM identity that may `rds-db:connect`.
 * @example
 * ```ts
 * const temporary: EmulatorCredentials = {
 *   accessKeyId: 'ASIAEXAMPLE0000001', secretAccessKey: 'secret', sessionToken: 'token',
 *   expiration: new Date(Date.now() + 3_600_000),
 * };
 * emulator.addCredentials(temporary);
 * ```
 */
export interface EmulatorCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /**
   * Temporary credentials: tokens signed with this key must carry exactly this
   * `X-Amz-Security-Token`. Without it, tokens must carry none.
   */
  readonly sessionToken?: string;
  /** Tokens verified after this moment are rejected with `credentials-expired`. */
  readonly expiration?: Date;
  /**
   * The identity policies of this key (JSON text or parsed documents). When given, a login is also
   * evaluated as IAM does for `rds-db:connect` on the emulator's dbuser ARN
   * (`arn:aws:rds-db:REGION:ACCOUNT_ID:dbuser:RESOURCE_ID/USER`) and refused with reason
   * `not-authorized` unless allowed. Without it, the key may log in as any user (as before).
   * @example
   * ```ts
   * emulator.addCredentials({ ...DEMO_CREDENTIALS, policies: [readFileSync('policy.json', 'utf8')] });
   * ```
   */
  readonly policies?: readonly PolicyInput[];
  /**
   * Who this key belongs to, for the request context `policies` are evaluated with, as IAM derives it
   * from the signing identity: `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`,
   * `aws:username` (an IAM user's ARN) and `aws:PrincipalTag/KEY` for each tag. Without it those keys
   * are absent from the request, so `${aws:username}` in a policy matches nothing.
   * @example
   * ```ts
   * emulator.addCredentials({
   *   ...DEMO_CREDENTIALS,
   *   policies: [abacPolicy],
   *   principal: { arn: 'arn:aws:iam::123456789012:role/app', tags: { dbuser: 'app' } },
   * });
   * ```
   */
  readonly principal?: EmulatorPrincipal;
}

/**
 * The IAM identity behind an emulator key: a user, role or role session ARN, and its tags.
 * @example
 * ```ts
 * const principal: EmulatorPrincipal = { arn: 'arn:aws:iam::123456789012:user/alice', tags: { team: 'db' } };
 * ```
 */
export interface EmulatorPrincipal {
  readonly arn: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * A static, obviously fake key pair the emulator accepts by default. Not an AWS credential.
 *
 * @example
 * ```ts
 * import { Signer } from '@aws-sdk/rds-signer';
 * const token = await new Signer({
 *   hostname: '127.0.0.1', port: emulator.port, username: 'app', region: 'us-east-1',
 *   credentials: DEMO_CREDENTIALS,
 * }).getAuthToken();
 * ```
 */
export const DEMO_CREDENTIALS: EmulatorCredentials = Object.freeze({
  accessKeyId: 'AKIAEMULATORDEMO0001',
  secretAccessKey: 'emulator/demo/secret/NOT+A+REAL+AWS+KEY+0001',
});

/**
 * The RDS endpoint a token must have been signed for.
 * @example
 * ```ts
 * const endpoint: EndpointAddress = { host: 'mydb.abc123.us-east-1.rds.amazonaws.com', port: 5432 };
 * ```
 */
export interface EndpointAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Options of {@link createVerifier}.
 * @example
 * ```ts
 * const options: VerifierOptions = {
 *   region: 'us-east-1', endpoint: { host: 'localhost', port: 5432 },
 *   credentials: [DEMO_CREDENTIALS], now: Date.now,
 * };
 * const verify = createVerifier(options);
 * ```
 */
export interface VerifierOptions {
  /** Region of the emulated endpoint; the token's credential scope must name it. */
  readonly region: string;
  /** The emulated endpoint; the token's signed `host:port` must be this (host case-insensitive). */
  readonly endpoint: EndpointAddress;
  /** Accepted access keys. A later entry with the same access key id wins. */
  readonly credentials: readonly EmulatorCredentials[];
  /** Wall clock, ms since the epoch. */
  readonly now: () => number;
}

/**
 * Checks `token` presented as the password of `loginUser`. Pure; never throws.
 * @example
 * ```ts
 * const verify: Verifier = createVerifier(options);
 * const result = verify(token, 'app');
 * ```
 */
export type Verifier = (token: string, loginUser: string) => VerifyResult;

/**
 * RDS refuses tokens whose `X-Amz-Expires` exceeds this (seconds).
 * @example
 * ```ts
 * presignAuthToken({ ...params, expiresIn: MAX_TOKEN_LIFETIME_S + 1 }); // rejected: lifetime-too-long
 * ```
 */
export const MAX_TOKEN_LIFETIME_S = 900;
/**
 * Tokens dated more than this ahead of the server clock are not yet valid.
 * @example
 * ```ts
 * emulator.setClockOffset(-(MAX_CLOCK_SKEW_MS + 60_000)); // fresh tokens: not-yet-valid
 * ```
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** Tokens longer than this are malformed (real ones are under 4 KB even with long session tokens). */
const MAX_TOKEN_CHARS = 32_768;

const REQUIRED = [
  'Action',
  'DBUser',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
] as const;

class Rejection {
  constructor(
    readonly reason: RejectReason,
    readonly detail: string,
  ) {}
}

function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number);
  const ms = Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 0, h ?? 0, mi ?? 0, se ?? 0);
  // Reject normalised overflow such as month 13 or second 61.
  return amzRoundTrip(ms) === s ? ms : undefined;
}

function amzRoundTrip(ms: number): string {
  if (!Number.isFinite(ms)) return '';
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new Rejection('malformed', 'token has invalid percent-encoding');
  }
}

/** Quotes a value for a detail string, shortened and stripped of control characters. */
function show(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return JSON.stringify(clean.length > 80 ? `${clean.slice(0, 80)}...` : clean);
}

function normaliseHost(host: string): string {
  const h = host.trim().toLowerCase();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

interface ParsedToken {
  readonly hostHeader: string;
  readonly host: string;
  readonly port: string | undefined;
  readonly params: ReadonlyMap<string, string>;
  readonly signature: string;
}

function parseToken(token: string): ParsedToken {
  if (token.length === 0) throw new Rejection('malformed', 'empty password; expected an IAM token');
  if (token.length > MAX_TOKEN_CHARS) {
    throw new Rejection('malformed', `token is ${token.length} characters long`);
  }
  const q = token.indexOf('/?');
  if (q <= 0) {
    throw new Rejection(
      'malformed',
      'not an IAM auth token (expected "host:port/?Action=connect&...")',
    );
  }
  const hostHeader = token.slice(0, q);
  if (/[\s/?#@]/.test(hostHeader))
    throw new Rejection('malformed', 'token has an invalid host part');
  let host = hostHeader;
  let port: string | undefined;
  const bracket = hostHeader.lastIndexOf(']');
  const colon = hostHeader.lastIndexOf(':');
  if (colon > bracket) {
    host = hostHeader.slice(0, colon);
    port = hostHeader.slice(colon + 1);
  }
  const params = new Map<string, string>();
  for (const pair of token.slice(q + 2).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
    const value = safeDecode(eq < 0 ? '' : pair.slice(eq + 1));
    if (params.has(key))
      throw new Rejection('malformed', `token repeats the parameter ${show(key)}`);
    params.set(key, value);
  }
  const missing = REQUIRED.filter((k) => !params.has(k));
  if (missing.length > 0) {
    throw new Rejection('malformed', `token lacks ${missing.join(', ')}`);
  }
  const signature = params.get('X-Amz-Signature') ?? '';
  return { hostHeader, host, port, params, signature };
}

function verifyOrThrow(
  token: string,
  loginUser: string,
  opts: VerifierOptions,
  keys: ReadonlyMap<string, EmulatorCredentials>,
): string {
  const t = parseToken(token);
  const p = (k: string): string => t.params.get(k) ?? '';

  const algorithm = p('X-Amz-Algorithm');
  if (algorithm !== SIGV4_ALGORITHM) {
    throw new Rejection('malformed', `unsupported X-Amz-Algorithm ${show(algorithm)}`);
  }
  if (p('X-Amz-SignedHeaders') !== 'host') {
    throw new Rejection(
      'malformed',
      `X-Amz-SignedHeaders is ${show(p('X-Amz-SignedHeaders'))}; RDS tokens sign "host" only`,
    );
  }
  const scopeParts = p('X-Amz-Credential').split('/');
  if (scopeParts.length !== 5 || scopeParts.some((s) => s === '')) {
    throw new Rejection(
      'malformed',
      'X-Amz-Credential is not "KEY/DATE/REGION/SERVICE/aws4_request"',
    );
  }
  const [accessKeyId = '', scopeDate = '', scopeRegion = '', scopeService = '', terminator = ''] =
    scopeParts;
  if (terminator !== 'aws4_request') {
    throw new Rejection('malformed', 'X-Amz-Credential does not end in aws4_request');
  }
  const date = p('X-Amz-Date');
  const signedAt = parseAmzDate(date);
  if (signedAt === undefined) {
    throw new Rejection('malformed', `X-Amz-Date ${show(date)} is not YYYYMMDDTHHMMSSZ`);
  }
  if (scopeDate !== date.slice(0, 8)) {
    throw new Rejection('malformed', 'credential scope date differs from X-Amz-Date');
  }
  const expiresText = p('X-Amz-Expires');
  if (!/^\d{1,9}$/.test(expiresText)) {
    throw new Rejection(
      'malformed',
      `X-Amz-Expires ${show(expiresText)} is not a number of seconds`,
    );
  }
  const expiresIn = Number(expiresText);

  // Who signed it, and did they?
  const creds = keys.get(accessKeyId);
  if (!creds) {
    throw new Rejection(
      'unknown-access-key',
      `access key ${show(accessKeyId)} is not registered with the emulator`,
    );
  }
  const unsigned: Array<[string, string]> = [];
  for (const [k, v] of t.params) if (k !== 'X-Amz-Signature') unsigned.push([k, v]);
  const query = canonicalQueryString(unsigned);
  const scope = `${scopeDate}/${scopeRegion}/${scopeService}/aws4_request`;
  const signingKey = deriveSigningKey(creds.secretAccessKey, scopeDate, scopeRegion, scopeService);
  const given = Buffer.from(t.signature, 'utf8');
  // The JS SDK v3 signs the empty-body hash, botocore and others UNSIGNED-PAYLOAD; RDS takes both.
  // SigV4 canonicalises the host header lowercased (botocore signs `urlsplit(url).hostname`), while
  // the token keeps the host as typed: `--hostname MYDB.ABC...` yields a capitalised token signed for
  // the lowercase name. Signers that keep the case as typed sign that; both are the same endpoint.
  const hostHeaders = [...new Set([t.hostHeader, t.hostHeader.toLowerCase()])];
  const matches = hostHeaders.some((hostHeader) =>
    [EMPTY_PAYLOAD_SHA256, UNSIGNED_PAYLOAD].some((payloadHash) => {
      const want = Buffer.from(
        hmacHex(
          signingKey,
          stringToSign(date, scope, canonicalPresignedRequest(hostHeader, query, payloadHash)),
        ),
        'utf8',
      );
      return given.length === want.length && timingSafeEqual(given, want);
    }),
  );
  if (!matches) {
    throw new Rejection(
      'bad-signature',
      `signature does not match (access key ${accessKeyId}, signed ${date}); the token was altered or signed with another secret key`,
    );
  }

  const presented = t.params.get('X-Amz-Security-Token');
  if (creds.sessionToken !== undefined && presented === undefined) {
    throw new Rejection(
      'bad-session-token',
      `access key ${accessKeyId} belongs to temporary credentials but the token carries no X-Amz-Security-Token`,
    );
  }
  if (creds.sessionToken === undefined && presented !== undefined) {
    throw new Rejection(
      'bad-session-token',
      `access key ${accessKeyId} has no session token but the token carries an X-Amz-Security-Token`,
    );
  }
  if (creds.sessionToken !== undefined && presented !== undefined) {
    const a = Buffer.from(presented, 'utf8');
    const b = Buffer.from(creds.sessionToken, 'utf8');
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new Rejection(
        'bad-session-token',
        `X-Amz-Security-Token does not match the session token of access key ${accessKeyId}`,
      );
    }
  }

  const now = opts.now();
  if (creds.expiration !== undefined && creds.expiration.getTime() < now) {
    throw new Rejection(
      'credentials-expired',
      `the credentials of access key ${accessKeyId} expired at ${creds.expiration.toISOString()}`,
    );
  }

  // What was it signed for?
  if (scopeService !== 'rds-db') {
    throw new Rejection('wrong-service', `signed for service ${show(scopeService)}, not "rds-db"`);
  }
  if (scopeRegion !== opts.region) {
    throw new Rejection(
      'wrong-region',
      `signed for region ${show(scopeRegion)}; this endpoint is in ${show(opts.region)}`,
    );
  }
  const action = p('Action');
  if (action !== 'connect') {
    throw new Rejection('wrong-action', `Action is ${show(action)}, not "connect"`);
  }
  if (normaliseHost(t.host) !== normaliseHost(opts.endpoint.host)) {
    throw new Rejection(
      'wrong-host',
      `signed for host ${show(t.host)}; this endpoint is ${show(opts.endpoint.host)} (sign for the endpoint the client dials, or set signingHost)`,
    );
  }
  if (t.port === undefined || !/^\d+$/.test(t.port) || Number(t.port) !== opts.endpoint.port) {
    throw new Rejection(
      'wrong-port',
      `signed for port ${show(t.port ?? '(none)')}; this endpoint listens on ${opts.endpoint.port}`,
    );
  }
  const dbUser = p('DBUser');
  if (dbUser !== loginUser) {
    throw new Rejection(
      'wrong-user',
      `signed for DBUser ${show(dbUser)}, login user is ${show(loginUser)}`,
    );
  }

  // When?
  if (expiresIn > MAX_TOKEN_LIFETIME_S) {
    throw new Rejection(
      'lifetime-too-long',
      `X-Amz-Expires is ${expiresIn} s; RDS accepts at most ${MAX_TOKEN_LIFETIME_S} s`,
    );
  }
  if (signedAt - now > MAX_CLOCK_SKEW_MS) {
    throw new Rejection(
      'not-yet-valid',
      `signed at ${new Date(signedAt).toISOString()}, ${Math.round((signedAt - now) / 1000)} s ahead of the server clock (${new Date(now).toISOString()}); more than ${MAX_CLOCK_SKEW_MS / 1000} s is refused`,
    );
  }
  const expiresAt = signedAt + expiresIn * 1000;
  if (now > expiresAt) {
    throw new Rejection(
      'expired',
      `expired at ${new Date(expiresAt).toISOString()} (signed ${new Date(signedAt).toISOString()}, X-Amz-Expires ${expiresIn}); server clock is ${new Date(now).toISOString()}`,
    );
  }
  return accessKeyId;
}

/**
 * Creates the token check the emulator runs at each login, exactly as RDS does it: the SigV4
 * signature of the presigned `GET /?Action=connect&DBUser=...` against the registered secret key
 * (payload hash `UNSIGNED-PAYLOAD` or, as the JS SDK v3 signs it, SHA-256 of the empty body),
 * the session token, the credential expiry, service `rds-db`, the region, `Action=connect`, the
 * signed `host:port` against the emulated endpoint, `DBUser` against the login user, a lifetime of
 * at most 900 s, not expired and not more than 5 minutes in the future. Pure: no I/O, the clock is
 * `now`. Never throws; the `detail` of a rejection never contains the signature or session token.
 *
 * @example
 * ```ts
 * const verify = createVerifier({
 *   region: 'us-east-1',
 *   endpoint: { host: 'localhost', port: 5432 },
 *   credentials: [DEMO_CREDENTIALS],
 *   now: () => Date.now(),
 * });
 * const result = verify(token, 'app');
 * if (!result.ok) console.log(result.reason, result.detail); // e.g. 'expired', 'expired at ...'
 * ```
 */
export function createVerifier(opts: VerifierOptions): Verifier {
  const keys = new Map<string, EmulatorCredentials>();
  for (const c of opts.credentials) keys.set(c.accessKeyId, c);
  return (token, loginUser) => {
    try {
      const accessKeyId = verifyOrThrow(String(token), String(loginUser), opts, keys);
      return { ok: true, user: loginUser, accessKeyId };
    } catch (err) {
      if (err instanceof Rejection) {
        return { ok: false, user: loginUser, reason: err.reason, detail: err.detail };
      }
      return {
        ok: false,
        user: loginUser,
        reason: 'malformed',
        detail: 'token could not be parsed',
      };
    }
  };
}
