import { isIP } from 'node:net';
import { nodeCrypto } from './builtins.js';
import type { AwsCredentials } from './credentials.js';
import { RdsIamError } from './errors.js';

/** What a signer is asked to sign. */
export interface SignRequest {
  /** The signing host (what the token names). */
  hostname: string;
  port: number;
  username: string;
  region: string;
  /** Sign as of this time: the provider's clock, so tests can move time. */
  signingDate: Date;
  /** Resolved credentials; `undefined` only for a custom `sign` given without `credentials`. */
  credentials: AwsCredentials | undefined;
}

/**
 * A token, either as the presigned text (its expiry is read from `X-Amz-Date` and `X-Amz-Expires`) or,
 * for other kinds of token, with its lifetime spelled out.
 */
export type SignResult =
  | string
  | { token: string; expiresAt: Date | number; issuedAt?: Date | number };

/** Replaces the signer (`sign` option). */
export type SignFunction = (request: SignRequest) => Promise<SignResult> | SignResult;

const escapeUri = (text: string): string =>
  encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

/** SHA-256 of an empty body: a presigned GET signs no payload. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** `20260501T083005Z`, and its first 8 characters for the scope. */
const longDate = (date: Date): string => date.toISOString().replace(/[-:]|\.\d{3}/g, '');

/**
 * Signs an RDS IAM auth token with the AWS SDK's SigV4 implementation, exactly as
 * `@aws-sdk/rds-signer` does, but at `signingDate` rather than the process clock.
 */
export async function signRdsToken(request: SignRequest): Promise<string> {
  const { credentials, port, username, region, signingDate } = request;
  // An IPv6 literal must be bracketed, or `host:port` in the token (and its signed host header) is
  // ambiguous.
  const hostname = isIP(request.hostname) === 6 ? `[${request.hostname}]` : request.hostname;
  if (!credentials) {
    throw new RdsIamError('ERR_SIGNING', 'rds-iam: no credentials to sign the token with.');
  }
  // AWS Signature Version 4, query-string form (a presigned GET, as `@aws-sdk/rds-signer` makes it),
  // on node:crypto: loading the SDK's SigV4 module cost a cold start about 25 ms, more than the
  // whole signature. A test checks byte equality with the SDK's signer.
  const { createHash, createHmac } = nodeCrypto();
  const hmac = (key: string | Buffer, data: string): Buffer =>
    createHmac('sha256', key).update(data, 'utf8').digest();
  const amzDate = longDate(signingDate);
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/rds-db/aws4_request`;
  const query: Record<string, string> = {
    Action: 'connect',
    DBUser: username,
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${credentials.accessKeyId}/${scope}`,
    'X-Amz-Date': amzDate,
    'X-Amz-Expires': '900',
    'X-Amz-SignedHeaders': 'host',
  };
  if (credentials.sessionToken) query['X-Amz-Security-Token'] = credentials.sessionToken;
  const encode = (): string =>
    Object.keys(query)
      .sort()
      .map((key) => `${escapeUri(key)}=${escapeUri(query[key] as string)}`)
      .join('&');
  const canonicalQuery = encode();
  const host = `${hostname}:${port}`;
  const canonicalRequest = `GET\n/\n${canonicalQuery}\nhost:${host}\n\nhost\n${EMPTY_SHA256}`;
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')}`;
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), region), 'rds-db'),
    'aws4_request',
  );
  query['X-Amz-Signature'] = createHmac('sha256', signingKey)
    .update(stringToSign, 'utf8')
    .digest('hex');
  // The signer's layout: every parameter, the signature too, in key order.
  return `${host}/?${encode()}`;
}
