import type { Hash, Hmac } from 'node:crypto';
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

type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** The SignatureV4 hash interface, on node:crypto. */
class Sha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    const { createHash, createHmac } = nodeCrypto();
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
}

type SignatureV4Module = typeof import('@smithy/signature-v4');
let signatureV4: Promise<SignatureV4Module> | undefined;

const escapeUri = (text: string): string =>
  encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

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
  signatureV4 ??= import('@smithy/signature-v4');
  const { SignatureV4 } = await signatureV4;
  const signer = new SignatureV4({ service: 'rds-db', region, credentials, sha256: Sha256 });
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      port,
      path: '/',
      query: { Action: 'connect', DBUser: username },
      headers: { host: `${hostname}:${port}` },
    },
    { expiresIn: 900, signingDate },
  );
  const query = presigned.query ?? {};
  const parts = Object.keys(query)
    .sort()
    .map((key) => `${escapeUri(key)}=${escapeUri(String(query[key]))}`);
  return `${hostname}:${port}/?${parts.join('&')}`;
}
