import { nodeCrypto } from './builtins.js';
import { describeError, RdsIamError } from './errors.js';

/**
 * AWS credentials, shaped like the AWS SDK v3's `AwsCredentialIdentity` so either can be passed.
 */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** When temporary credentials stop working. */
  readonly expiration?: Date;
}

/** A function that returns credentials, like every AWS SDK v3 credential provider. */
export type AwsCredentialsProvider = (options?: {
  forceRefresh?: boolean;
}) => Promise<AwsCredentials>;

/** Credentials as the cache needs them: resolved, and how long that took. */
export interface ResolvedCredentials {
  credentials: AwsCredentials;
  /** Milliseconds spent calling the provider; 0 for a cached answer. */
  fetchMs: number;
}

/** Where a token provider gets its credentials from. One instance per identity, shared. */
export interface CredentialSource {
  /** Identifies the identity, for sharing token caches. Contains no secret. */
  readonly id: string;
  /**
   * Credentials that stay valid until `needUntil` if the provider can give such, else the freshest it
   * has that are still valid at `now`.
   */
  get(now: number, needUntil: number): Promise<ResolvedCredentials>;
}

/**
 * A provider that just answered with credentials expiring before we'd like is not asked again for this
 * long: container and instance metadata endpoints keep serving the same credentials until a few
 * minutes before they expire, and they are rate limited.
 */
const RE_ASK_AFTER_MS = 60_000;

class ProviderCredentialSource implements CredentialSource {
  readonly id: string;
  readonly #load: () => Promise<AwsCredentialsProvider>;
  #provider: AwsCredentialsProvider | undefined;
  #cached: AwsCredentials | undefined;
  #askedAt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<AwsCredentials> | undefined;
  readonly #describe: string;

  constructor(id: string, describe: string, load: () => Promise<AwsCredentialsProvider>) {
    this.id = id;
    this.#describe = describe;
    this.#load = load;
  }

  async get(now: number, needUntil: number): Promise<ResolvedCredentials> {
    const cached = this.#cached;
    if (cached && expiresAt(cached) >= needUntil) return { credentials: cached, fetchMs: 0 };
    if (cached && expiresAt(cached) > now && now - this.#askedAt < RE_ASK_AFTER_MS) {
      return { credentials: cached, fetchMs: 0 };
    }
    const started = performance.now();
    try {
      this.#inflight ??= this.#fetch(cached !== undefined, now);
      const credentials = await this.#inflight;
      return { credentials, fetchMs: performance.now() - started };
    } catch (err) {
      // An old answer that still works beats an outage: the token's expiry is capped by it anyway.
      if (cached && expiresAt(cached) > now) return { credentials: cached, fetchMs: 0 };
      throw err;
    }
  }

  async #fetch(forceRefresh: boolean, now: number): Promise<AwsCredentials> {
    try {
      this.#provider ??= await this.#load();
      const credentials = await this.#provider(forceRefresh ? { forceRefresh } : undefined);
      if (
        !credentials ||
        typeof credentials.accessKeyId !== 'string' ||
        typeof credentials.secretAccessKey !== 'string'
      ) {
        throw new Error('the provider returned no accessKeyId / secretAccessKey');
      }
      this.#cached = credentials;
      this.#askedAt = now;
      return credentials;
    } catch (err) {
      if (err instanceof RdsIamError) throw err;
      throw new RdsIamError(
        'ERR_CREDENTIALS',
        `rds-iam: could not resolve AWS credentials from ${this.#describe}: ${describeError(err)}. Check that this process has an IAM role or AWS_PROFILE / AWS_ACCESS_KEY_ID set, or pass \`credentials\`.`,
        { cause: err },
      );
    } finally {
      this.#inflight = undefined;
    }
  }
}

class StaticCredentialSource implements CredentialSource {
  readonly id: string;
  readonly #credentials: AwsCredentials;

  constructor(credentials: AwsCredentials) {
    this.#credentials = credentials;
    const session = credentials.sessionToken
      ? `:${nodeCrypto().createHash('sha256').update(credentials.sessionToken).digest('hex').slice(0, 16)}`
      : '';
    this.id = `static:${credentials.accessKeyId}${session}`;
  }

  async get(now: number): Promise<ResolvedCredentials> {
    if (expiresAt(this.#credentials) <= now) {
      throw new RdsIamError(
        'ERR_CREDENTIALS',
        `rds-iam: the static credentials passed as \`credentials\` (access key ${maskAccessKeyId(this.#credentials.accessKeyId)}) expired at ${this.#credentials.expiration?.toISOString()}. Pass a credential provider function so they can be refreshed.`,
      );
    }
    return { credentials: this.#credentials, fetchMs: 0 };
  }
}

/** When credentials stop working, in ms since the epoch (never, for long-term keys). */
export function expiresAt(credentials: AwsCredentials): number {
  return credentials.expiration instanceof Date
    ? credentials.expiration.getTime()
    : Number.POSITIVE_INFINITY;
}

/** `AKIA…WXYZ`: enough to tell keys apart in messages, not enough to use. */
export function maskAccessKeyId(accessKeyId: string): string {
  return accessKeyId.length > 8 ? `${accessKeyId.slice(0, 4)}…${accessKeyId.slice(-4)}` : '…';
}

const defaultChains = new Map<string, CredentialSource>();
const functionSources = new WeakMap<AwsCredentialsProvider, CredentialSource>();
let functionIds = 0;

/**
 * The credential source for these options: one per identity for the whole process, so that every
 * provider and integration using the same identity shares one memoized set of credentials and one
 * request at a time to the credential endpoint.
 */
export function credentialSource(
  credentials: AwsCredentials | AwsCredentialsProvider | undefined,
  profile: string | undefined,
): CredentialSource {
  if (typeof credentials === 'function') {
    let source = functionSources.get(credentials);
    if (!source) {
      source = new ProviderCredentialSource(
        `fn:${++functionIds}`,
        'the `credentials` provider',
        async () => credentials,
      );
      functionSources.set(credentials, source);
    }
    return source;
  }
  if (credentials) return new StaticCredentialSource(credentials);
  const key = profile ?? '';
  let source = defaultChains.get(key);
  if (!source) {
    source = new ProviderCredentialSource(
      `chain:${key}`,
      `the AWS SDK default credential chain${profile ? ` (profile '${profile}')` : ''}`,
      async () => {
        // Loaded on first use: the SDK is most of our cold-start cost and many processes never mint.
        const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
        return defaultProvider(profile ? { profile } : {}) as AwsCredentialsProvider;
      },
    );
    defaultChains.set(key, source);
  }
  return source;
}
