import { inspect } from 'node:util';
import { type CredentialSource, credentialSource, expiresAt } from './credentials.js';
import { describeError, RdsIamError } from './errors.js';
import type { TokenEvent, TokenEventBase } from './events.js';
import {
  type ResolvedOptions,
  resolveOptions,
  TOKEN_LIFETIME_MS,
  type TokenProviderOptions,
} from './options.js';
import { resolveRegion } from './region.js';
import { type SignFunction, type SignResult, signRdsToken } from './sign.js';
import { parseAuthToken } from './token.js';

/** What {@link TokenProvider.peek} tells about the current token: times only, never its text. */
export interface TokenInfo {
  issuedAt: Date;
  /** When the server stops accepting it: `X-Amz-Date + 900 s`, or the credentials' expiry if sooner. */
  expiresAt: Date;
  /** The provider hands it out until this time (`expiresAt - expiryMarginMs`). */
  usableUntil: Date;
}

/**
 * Hands out IAM auth tokens for one endpoint and user, minting a new one only when needed.
 *
 * @example
 * ```ts
 * const tokens = createTokenProvider({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', port: 5432, user: 'app' });
 * const password = await tokens.getToken(); // valid for at least expiryMarginMs
 * ```
 */
export interface TokenProvider {
  /**
   * A token valid for at least `expiryMarginMs`. Served from the cache when it can be; concurrent
   * callers share one mint.
   *
   * @throws {RdsIamError} when no usable token can be had (credentials, region or signing failed).
   */
  getToken(): Promise<string>;
  /**
   * Drops `token` (a server rejected it), so the next `getToken()` mints. A token other than the
   * current one is ignored, so a late rejection of an old token never throws away a newer one. Without
   * an argument, drops whatever is cached. The credentials that signed it are suspect too: when they
   * come from a source that can refresh them (the default chain, a provider function), the next mint
   * asks it again (at most once per 30 s), so a revoked session or rotated keys do not sign the retry.
   */
  invalidate(token?: string): void;
  /** The current token's times, or `undefined` when none is cached. */
  peek(): TokenInfo | undefined;
  /** Stops the provider: later `getToken()` calls reject with `ERR_CLOSED`. */
  close(): void;
}

interface CachedToken {
  readonly token: string;
  /** The access key that signed it, when rds-iam resolved the credentials. */
  readonly accessKeyId: string | undefined;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly usableUntil: number;
  readonly refreshAt: number;
}

/** Backoff after failed mints: 1 s doubling to 30 s, half of it jittered so fleets spread out. */
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 30_000;

/** The next retry delay after `failures` consecutive failures. */
export function backoffMs(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * The token cache behind every integration. State lives in private fields so that neither
 * `util.inspect` nor a logger that walks objects can reach the token.
 */
class CachingTokenProvider implements TokenProvider {
  readonly #options: ResolvedOptions;
  readonly #credentials: CredentialSource | undefined;
  readonly #sign: SignFunction;
  readonly #now: () => number;
  readonly #listeners = new Set<(event: TokenEvent) => void>();
  #region: string | undefined;
  #current: CachedToken | undefined;
  #inflight: Promise<CachedToken> | undefined;
  #failures = 0;
  #retryAt = Number.NEGATIVE_INFINITY;
  #lastError: RdsIamError | undefined;
  #closed = false;

  constructor(options: TokenProviderOptions) {
    this.#options = resolveOptions(options);
    this.#region = this.#options.region;
    this.#now = options.now ?? Date.now;
    this.#sign = options.sign ?? signRdsToken;
    // A custom signer gets credentials only when they were given: it may not need AWS at all.
    this.#credentials =
      options.sign && !options.credentials
        ? undefined
        : credentialSource(options.credentials, options.profile);
    if (options.onEvent) this.#listeners.add(options.onEvent);
  }

  /** @internal For `sharedTokenProvider`: several handles listen to one cache. */
  addListener(listener: (event: TokenEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  getToken(): Promise<string> {
    if (this.#closed) {
      return Promise.reject(
        new RdsIamError('ERR_CLOSED', 'rds-iam: this token provider was closed.'),
      );
    }
    const now = this.#now();
    const current = this.#current;
    // The wall clock decides at every hand-out: after a suspend or a frozen Lambda, a cached token
    // that is past its time is never returned, whatever a timer thought.
    if (current && now < current.usableUntil) {
      const refreshing = now >= current.refreshAt;
      if (refreshing && !this.#inflight && now >= this.#retryAt) this.#refreshInBackground();
      if (this.#listeners.size) {
        this.#emit({
          type: 'hit',
          usableUntil: current.usableUntil,
          refreshing,
          ...this.#base(now),
        });
      }
      return Promise.resolve(current.token);
    }
    if (!this.#inflight && now < this.#retryAt && this.#lastError) {
      // Failing fast during backoff protects the credential endpoint from a pool's retry storm.
      return Promise.reject(this.#failure(this.#lastError, now));
    }
    return this.#mint(false).then(
      (entry) => entry.token,
      (err: unknown) => {
        throw this.#failure(err, this.#now());
      },
    );
  }

  invalidate(token?: string): void {
    const current = this.#current;
    if (!current || (token !== undefined && token !== current.token)) return;
    this.#current = undefined;
    const now = this.#now();
    // The keys that signed it may be what the server stopped accepting (a revoked role session, keys
    // rotated behind a container endpoint): a source that can refresh is asked again before the next
    // mint, so the retry does not sign with the same keys.
    if (current.accessKeyId) this.#credentials?.rejected(current.accessKeyId, now);
    this.#emit({ type: 'invalidated', issuedAt: current.issuedAt, ...this.#base(now) });
  }

  peek(): TokenInfo | undefined {
    const current = this.#current;
    if (!current) return undefined;
    return {
      issuedAt: new Date(current.issuedAt),
      expiresAt: new Date(current.expiresAt),
      usableUntil: new Date(current.usableUntil),
    };
  }

  close(): void {
    this.#closed = true;
    this.#current = undefined;
    this.#listeners.clear();
  }

  #refreshInBackground(): void {
    this.#mint(true).catch((err: unknown) => {
      const now = this.#now();
      const error = toRdsIamError(err);
      const current = this.#current;
      this.#emit({
        type: 'refresh-failed',
        error,
        failures: this.#failures,
        retryInMs: Math.max(0, this.#retryAt - now),
        usableUntil: current?.usableUntil ?? now,
        ...this.#base(now),
      });
    });
  }

  /** Starts a mint unless one is in flight (single-flight), and records its outcome. */
  #mint(background: boolean): Promise<CachedToken> {
    if (this.#inflight) return this.#inflight;
    const inflight = this.#mintOnce(background).then(
      (entry) => {
        this.#inflight = undefined;
        this.#failures = 0;
        this.#retryAt = Number.NEGATIVE_INFINITY;
        this.#lastError = undefined;
        if (!this.#closed) this.#current = entry;
        return entry;
      },
      (err: unknown) => {
        this.#inflight = undefined;
        this.#failures += 1;
        this.#retryAt = this.#now() + backoffMs(this.#failures);
        this.#lastError = toRdsIamError(err);
        throw this.#lastError;
      },
    );
    this.#inflight = inflight;
    return inflight;
  }

  async #mintOnce(background: boolean): Promise<CachedToken> {
    const started = performance.now();
    const { signingHost, signingPort, user, expiryMarginMs, refreshAheadMs, profile } =
      this.#options;
    this.#region ??= await resolveRegion(this.#options.region, signingHost, profile);
    const region = this.#region;
    const startedAt = this.#now();
    // Ask for credentials that outlive the token; accept shorter ones and cap the token's expiry.
    const resolved = await this.#credentials?.get(startedAt, startedAt + TOKEN_LIFETIME_MS, {
      timeoutMs: this.#options.credentialsTimeoutMs,
      foreground: !background,
    });
    const signingDate = new Date(this.#now());
    let result: SignResult;
    try {
      result = await this.#sign({
        hostname: signingHost,
        port: signingPort,
        username: user,
        region,
        signingDate,
        credentials: resolved?.credentials,
      });
    } catch (err) {
      if (err instanceof RdsIamError) throw err;
      throw new RdsIamError(
        'ERR_SIGNING',
        `rds-iam: signing the auth token for ${user}@${signingHost}:${signingPort} in ${region} failed: ${describeError(err)}. Check the AWS credentials this process uses (role, AWS_PROFILE, \`credentials\`) and the \`region\` / \`signingHost\` options.`,
        { cause: err },
      );
    }
    const { token, issuedAt, expiresAt: tokenExpiresAt } = readSignResult(result, signingDate);
    const credentialsExpireAt = resolved ? expiresAt(resolved.credentials) : Infinity;
    const expires = Math.min(tokenExpiresAt, credentialsExpireAt);
    const usableUntil = expires - expiryMarginMs;
    const now = this.#now();
    if (usableUntil <= now) {
      throw new RdsIamError(
        'ERR_CREDENTIALS',
        credentialsExpireAt < tokenExpiresAt
          ? `rds-iam: the AWS credentials expire at ${new Date(credentialsExpireAt).toISOString()}, too soon to sign a usable token, and the credential provider returned no fresher ones. Check the credential source (role session duration, SSO login).`
          : `rds-iam: the signer returned a token that expires at ${new Date(tokenExpiresAt).toISOString()}, less than expiryMarginMs (${expiryMarginMs} ms) from now. Check the system clock.`,
      );
    }
    const entry: CachedToken = {
      token,
      accessKeyId: resolved?.credentials.accessKeyId,
      issuedAt,
      expiresAt: expires,
      usableUntil,
      refreshAt: Math.max(issuedAt, expires - refreshAheadMs),
    };
    this.#emit({
      type: 'minted',
      background,
      issuedAt,
      expiresAt: expires,
      usableUntil,
      credentialsMs: resolved?.fetchMs ?? 0,
      durationMs: performance.now() - started,
      ...this.#base(now),
    });
    return entry;
  }

  #failure(err: unknown, now: number): RdsIamError {
    const error = toRdsIamError(err);
    this.#emit({ type: 'error', error, ...this.#base(now) });
    return error;
  }

  #base(at: number): TokenEventBase {
    const { signingHost, signingPort, user } = this.#options;
    return { host: signingHost, port: signingPort, user, region: this.#region ?? '', at };
  }

  #emit(event: TokenEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A broken metrics hook must not break logins.
      }
    }
  }

  [inspect.custom](): string {
    const { signingHost, signingPort, user } = this.#options;
    const current = this.#current;
    const state = current
      ? `token usable until ${new Date(current.usableUntil).toISOString()}`
      : 'no token';
    return `TokenProvider { ${user}@${signingHost}:${signingPort}, ${state}${this.#closed ? ', closed' : ''} }`;
  }

  toJSON(): Record<string, unknown> {
    const { signingHost, signingPort, user } = this.#options;
    return { host: signingHost, port: signingPort, user, region: this.#region, token: this.peek() };
  }
}

function readSignResult(
  result: SignResult,
  signingDate: Date,
): {
  token: string;
  issuedAt: number;
  expiresAt: number;
} {
  if (typeof result === 'string') {
    const info = parseAuthToken(result);
    return {
      token: result,
      issuedAt: info.issuedAt.getTime(),
      expiresAt: info.expiresAt.getTime(),
    };
  }
  if (!result || typeof result.token !== 'string' || result.token === '') {
    throw new RdsIamError(
      'ERR_SIGNING',
      'rds-iam: the `sign` function returned no token. Return the token string, or { token, expiresAt }.',
    );
  }
  const expires = new Date(result.expiresAt).getTime();
  const issued = new Date(result.issuedAt ?? signingDate).getTime();
  if (!Number.isFinite(expires) || !Number.isFinite(issued)) {
    throw new RdsIamError(
      'ERR_SIGNING',
      'rds-iam: the `sign` function returned an invalid `expiresAt` or `issuedAt`; use a Date or ms since the epoch.',
    );
  }
  return { token: result.token, issuedAt: issued, expiresAt: expires };
}

function toRdsIamError(err: unknown): RdsIamError {
  if (err instanceof RdsIamError) return err;
  return new RdsIamError('ERR_SIGNING', `rds-iam: minting a token failed: ${describeError(err)}.`, {
    cause: err,
  });
}

/**
 * Creates a token provider for one endpoint and user. Options are checked at once: a bad host, port or
 * user throws here, before any network call. Prefer {@link sharedTokenProvider} when several pools or
 * libraries in one process log in as the same user.
 *
 * @throws {RdsIamError} `ERR_INVALID_HOST`, `ERR_INVALID_PORT`, `ERR_INVALID_USER`, `ERR_INVALID_OPTION`.
 *
 * @example
 * ```ts
 * import { createTokenProvider } from '@rds-iam/core';
 *
 * const tokens = createTokenProvider({
 *   host: 'mydb.abc123.eu-west-1.rds.amazonaws.com', // the region comes from the hostname
 *   port: 5432,
 *   user: 'app',
 * });
 * const client = new pg.Client({ host, user: 'app', password: () => tokens.getToken(), ssl: true });
 * ```
 */
export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  return new CachingTokenProvider(options);
}

export { CachingTokenProvider };
