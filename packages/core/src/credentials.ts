import { nodeCrypto } from './builtins.js';
import { type Deadline, startDeadline } from './deadline.js';
import { type CredentialFetcher, defaultChain, providerFetcher } from './default-chain.js';
import { describeError, RdsIamError } from './errors.js';
import { ACCESS_KEY_ID_RULE, accessKeyIdProblem } from './options.js';

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

/** How long a caller waits for credentials, and whether it awaits them (not a background refresh). */
export interface CredentialWait {
  /** `credentialsTimeoutMs`. */
  timeoutMs: number;
  /** A caller awaits the outcome: the wait may keep the process alive, up to `timeoutMs`. */
  foreground: boolean;
}

/** Where a token provider gets its credentials from. One instance per identity, shared. */
export interface CredentialSource {
  /** Identifies the identity, for sharing token caches. Contains no secret. */
  readonly id: string;
  /**
   * Credentials that stay valid until `needUntil` if the provider can give such, else the freshest it
   * has that are still valid at `now`. Rejects with `ERR_CREDENTIALS_TIMEOUT` once the request has
   * been pending `wait.timeoutMs`.
   */
  get(now: number, needUntil: number, wait: CredentialWait): Promise<ResolvedCredentials>;
  /**
   * A server rejected a token signed with `accessKeyId`. The keys may have stopped working before
   * their expiry (a revoked role session, keys rotated behind a container endpoint): a source that
   * can refresh asks again, with `forceRefresh`, at the next `get()`, so the retry signs with new
   * keys rather than the same ones. Ignored for keys the source no longer holds.
   */
  rejected(accessKeyId: string, now: number): void;
}

/**
 * A provider that just answered with credentials expiring before we'd like is not asked again for this
 * long: container and instance metadata endpoints keep serving the same credentials until a few
 * minutes before they expire, and they are rate limited.
 */
const RE_ASK_AFTER_MS = 60_000;

/**
 * After a rejected login, the source is asked again at most this often: a rejection that has nothing
 * to do with the keys (no `rds_iam` grant, a policy that denies) must not turn every failed login
 * into a request to a rate-limited endpoint (STS, instance metadata).
 */
export const REJECTED_REFRESH_INTERVAL_MS = 30_000;

/** One request to the credential source, shared by every caller that arrives while it is pending. */
interface Flight {
  readonly promise: Promise<AwsCredentials>;
  readonly deadline: Deadline;
}

class ProviderCredentialSource implements CredentialSource {
  readonly id: string;
  readonly #load: () => Promise<CredentialFetcher>;
  #fetcher: CredentialFetcher | undefined;
  #cached: AwsCredentials | undefined;
  #askedAt = Number.NEGATIVE_INFINITY;
  #flight: Flight | undefined;
  #describe: string;
  /** The cached credentials signed a rejected token: the next get() asks the source again. */
  #suspect = false;
  #rejectedAt = Number.NEGATIVE_INFINITY;

  constructor(id: string, describe: string, load: () => Promise<CredentialFetcher>) {
    this.id = id;
    this.#describe = describe;
    this.#load = load;
  }

  async get(now: number, needUntil: number, wait: CredentialWait): Promise<ResolvedCredentials> {
    const cached = this.#cached;
    const trusted = cached && !this.#suspect ? cached : undefined;
    if (trusted && expiresAt(trusted) >= needUntil) return { credentials: trusted, fetchMs: 0 };
    if (trusted && expiresAt(trusted) > now && now - this.#askedAt < RE_ASK_AFTER_MS) {
      return { credentials: trusted, fetchMs: 0 };
    }
    const started = performance.now();
    try {
      // Single-flight, also while the source hangs: callers join the pending request, and its one
      // deadline ends the wait of all of them.
      this.#flight ??= this.#start(cached !== undefined, now, wait.timeoutMs);
      if (wait.foreground) this.#flight.deadline.ref();
      const credentials = await this.#flight.promise;
      return { credentials, fetchMs: performance.now() - started };
    } catch (err) {
      // An old answer that still works beats an outage: the token's expiry is capped by it anyway.
      if (cached && expiresAt(cached) > now) return { credentials: cached, fetchMs: 0 };
      throw err;
    }
  }

  rejected(accessKeyId: string, now: number): void {
    if (this.#cached?.accessKeyId !== accessKeyId) return;
    if (now - this.#rejectedAt < REJECTED_REFRESH_INTERVAL_MS) return;
    this.#rejectedAt = now;
    this.#suspect = true;
  }

  #start(forceRefresh: boolean, now: number, timeoutMs: number): Flight {
    const controller = new AbortController();
    let expire: (err: RdsIamError) => void = () => {};
    const expired = new Promise<never>((_resolve, reject) => {
      expire = reject;
    });
    const deadline = startDeadline(timeoutMs, () => {
      const fetcher = this.#fetcher;
      const error = new RdsIamError(
        'ERR_CREDENTIALS_TIMEOUT',
        `rds-iam: ${this.#describe} did not answer within ${timeoutMs} ms (credentialsTimeoutMs); gave up waiting. Check that it is reachable and healthy (the ECS/EKS agent, instance metadata, SSO, STS), or raise \`credentialsTimeoutMs\` if it is only slow. The next connection asks again after a backoff.`,
      );
      controller.abort(error);
      // The SDK's chain would hand the hung request out again: the next attempt builds a fresh one.
      if (fetcher?.sticky) this.#fetcher = undefined;
      expire(error);
    });
    const flight: Flight = {
      deadline,
      promise: Promise.race([this.#fetch(forceRefresh, now, controller.signal), expired]).finally(
        () => {
          deadline.cancel();
          // Asked once since the rejection: a failed answer falls back to the cached keys, and only a
          // later rejection asks again.
          this.#suspect = false;
          if (this.#flight === flight) this.#flight = undefined;
        },
      ),
    };
    return flight;
  }

  async #fetch(forceRefresh: boolean, now: number, signal: AbortSignal): Promise<AwsCredentials> {
    try {
      const fetcher = this.#fetcher ?? (await this.#load());
      this.#describe = fetcher.describe;
      // An attempt abandoned while the chain loaded must not bring its fetcher back.
      if (signal.aborted) throw signal.reason;
      this.#fetcher = fetcher;
      const credentials = await fetcher.fetch(forceRefresh, signal);
      if (
        !credentials ||
        typeof credentials.accessKeyId !== 'string' ||
        typeof credentials.secretAccessKey !== 'string'
      ) {
        throw new Error('the provider returned no accessKeyId / secretAccessKey');
      }
      const keyProblem = accessKeyIdProblem(credentials.accessKeyId);
      if (keyProblem) {
        throw new Error(`the accessKeyId it returned ${keyProblem}. ${ACCESS_KEY_ID_RULE}`);
      }
      if (signal.aborted) throw signal.reason;
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

  async get(
    now: number,
    _needUntil?: number,
    _wait?: CredentialWait,
  ): Promise<ResolvedCredentials> {
    if (expiresAt(this.#credentials) <= now) {
      throw new RdsIamError(
        'ERR_CREDENTIALS',
        `rds-iam: the static credentials passed as \`credentials\` (access key ${maskAccessKeyId(this.#credentials.accessKeyId)}) expired at ${this.#credentials.expiration?.toISOString()}. Pass a credential provider function so they can be refreshed.`,
      );
    }
    return { credentials: this.#credentials, fetchMs: 0 };
  }

  rejected(): void {
    // Static keys cannot be refreshed.
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
        async () => providerFetcher(credentials, 'the `credentials` provider', false),
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
      () => defaultChain(profile),
    );
    defaultChains.set(key, source);
  }
  return source;
}
