import { createHash, createHmac } from 'node:crypto';

/*
 * The pieces of AWS Signature Version 4 that a presigned RDS IAM auth token needs, with node:crypto.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */

/**
 * The only algorithm RDS IAM tokens use.
 * @example
 * ```ts
 * new URLSearchParams(token.slice(token.indexOf('?'))).get('X-Amz-Algorithm') === SIGV4_ALGORITHM;
 * ```
 */
export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';

/**
 * The payload hash of a presigned URL as botocore (Python, the AWS CLI) and most SDKs sign it.
 * @example
 * ```ts
 * canonicalPresignedRequest('db.example.com:5432', query, UNSIGNED_PAYLOAD);
 * ```
 */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/**
 * The payload hash the AWS SDK for JavaScript v3 (`@smithy/signature-v4`, hence
 * `@aws-sdk/rds-signer`) signs presigned requests with: SHA-256 of the empty body. RDS accepts both.
 * @example
 * ```ts
 * presignAuthToken({ ...params, payloadHash: EMPTY_PAYLOAD_SHA256 }); // as @aws-sdk/rds-signer signs
 * ```
 */
export const EMPTY_PAYLOAD_SHA256 =
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * URI-encodes a query key or value the SigV4 way: every byte except `A-Z a-z 0-9 - _ . ~` as `%XX`
 * (upper-case hex).
 *
 * @example
 * ```ts
 * sigv4Encode('a b/c'); // 'a%20b%2Fc'
 * ```
 */
export function sigv4Encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The canonical query string: keys and values SigV4-encoded, sorted by encoded key (then value),
 * joined with `&`.
 *
 * @example
 * ```ts
 * canonicalQueryString([['b', '2'], ['a', 'x y']]); // 'a=x%20y&b=2'
 * ```
 */
export function canonicalQueryString(params: ReadonlyArray<readonly [string, string]>): string {
  return params
    .map(([k, v]) => [sigv4Encode(k), sigv4Encode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/**
 * The canonical request of a presigned `GET /` whose only signed header is `host`.
 *
 * @example
 * ```ts
 * canonicalPresignedRequest('db.example.com:5432', 'Action=connect&DBUser=app&...');
 * ```
 */
export function canonicalPresignedRequest(
  hostHeader: string,
  canonicalQuery: string,
  payloadHash: string = UNSIGNED_PAYLOAD,
): string {
  return ['GET', '/', canonicalQuery, `host:${hostHeader.trim()}\n`, 'host', payloadHash].join(
    '\n',
  );
}

/** Lower-case hex SHA-256. @example `sha256Hex('')` */
export function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

/**
 * The string to sign for a canonical request.
 *
 * @example
 * ```ts
 * stringToSign('20240101T000000Z', '20240101/us-east-1/rds-db/aws4_request', canonicalRequest);
 * ```
 */
export function stringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return [SIGV4_ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
}

/**
 * The SigV4 signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
 *
 * @example
 * ```ts
 * const key = deriveSigningKey(secret, '20240101', 'us-east-1', 'rds-db');
 * ```
 */
export function deriveSigningKey(
  secretAccessKey: string,
  date: string,
  region: string,
  service: string,
): Buffer {
  const kDate = createHmac('sha256', `AWS4${secretAccessKey}`).update(date, 'utf8').digest();
  const kRegion = createHmac('sha256', kDate).update(region, 'utf8').digest();
  const kService = createHmac('sha256', kRegion).update(service, 'utf8').digest();
  return createHmac('sha256', kService).update('aws4_request', 'utf8').digest();
}

/** Lower-case hex HMAC-SHA256 of `data` with `key`. @example `hmacHex(key, stringToSign)` */
export function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('hex');
}

/**
 * Parts of a presigned RDS auth token, as {@link presignAuthToken} takes them.
 * @example
 * ```ts
 * const params: PresignParams = {
 *   host: '127.0.0.1', port: 5432, user: 'app', region: 'us-east-1',
 *   accessKeyId: DEMO_CREDENTIALS.accessKeyId, secretAccessKey: DEMO_CREDENTIALS.secretAccessKey,
 *   signedAt: Date.now(), expiresIn: 60,
 * };
 * ```
 */
export interface PresignParams {
  /** Signed host (the `host` header and the token's prefix). */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** Signing time, ms since the epoch. */
  readonly signedAt: number;
  /** `X-Amz-Expires`, seconds. Default 900. */
  readonly expiresIn?: number;
  /** Default `rds-db`. */
  readonly service?: string;
  /** Default `connect`. */
  readonly action?: string;
  /** Default {@link UNSIGNED_PAYLOAD}; the JS SDK v3 uses {@link EMPTY_PAYLOAD_SHA256}. */
  readonly payloadHash?: string;
}

/**
 * Formats a time as SigV4's `YYYYMMDDTHHMMSSZ`.
 *
 * @example
 * ```ts
 * amzDate(Date.UTC(2024, 0, 2, 3, 4, 5)); // '20240102T030405Z'
 * ```
 */
export function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/**
 * Presigns an RDS IAM auth token like `@aws-sdk/rds-signer` does, with every part controllable
 * (service, action, lifetime, signing time). For tests and tools; the emulator itself only verifies.
 *
 * @example
 * ```ts
 * const token = presignAuthToken({
 *   host: '127.0.0.1', port: 5432, user: 'app', region: 'us-east-1',
 *   accessKeyId: 'AKIAEMULATORDEMO0001', secretAccessKey: '...', signedAt: Date.now(),
 * });
 * ```
 */
export function presignAuthToken(p: PresignParams): string {
  const date = amzDate(p.signedAt);
  const day = date.slice(0, 8);
  const service = p.service ?? 'rds-db';
  const scope = `${day}/${p.region}/${service}/aws4_request`;
  const hostHeader = `${p.host}:${p.port}`;
  const params: Array<[string, string]> = [
    ['Action', p.action ?? 'connect'],
    ['DBUser', p.user],
    ['X-Amz-Algorithm', SIGV4_ALGORITHM],
    ['X-Amz-Credential', `${p.accessKeyId}/${scope}`],
    ['X-Amz-Date', date],
    ['X-Amz-Expires', String(p.expiresIn ?? 900)],
    ['X-Amz-SignedHeaders', 'host'],
  ];
  if (p.sessionToken !== undefined) params.push(['X-Amz-Security-Token', p.sessionToken]);
  const query = canonicalQueryString(params);
  const key = deriveSigningKey(p.secretAccessKey, day, p.region, service);
  const signature = hmacHex(
    key,
    stringToSign(date, scope, canonicalPresignedRequest(hostHeader, query, p.payloadHash)),
  );
  return `${hostHeader}/?${query}&X-Amz-Signature=${signature}`;
}
