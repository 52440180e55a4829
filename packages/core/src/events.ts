import type { RdsIamError } from './errors.js';

/** Fields every {@link TokenEvent} carries: which endpoint and user it is about. Never token text. */
export interface TokenEventBase {
  /** The host the token is signed for (the signing host). */
  host: string;
  port: number;
  user: string;
  region: string;
  /** Wall-clock time of the event, in ms since the epoch (the provider's `now`). */
  at: number;
}

/** A new token was signed. */
export interface TokenMintedEvent extends TokenEventBase {
  type: 'minted';
  /** True when the mint ran in the background while callers were served the current token. */
  background: boolean;
  issuedAt: number;
  expiresAt: number;
  /** `expiresAt` (or the credentials' expiry, if sooner) minus `expiryMarginMs`. */
  usableUntil: number;
  /** How long resolving credentials took, in ms (0 when they were cached). */
  credentialsMs: number;
  /** How long the whole mint took, in ms. */
  durationMs: number;
}

/** A caller was handed the cached token. */
export interface TokenHitEvent extends TokenEventBase {
  type: 'hit';
  usableUntil: number;
  /** True inside `refreshAheadMs` of expiry: a background refresh is running or due. */
  refreshing: boolean;
}

/** A background refresh failed; callers keep getting the current token while it is usable. */
export interface TokenRefreshFailedEvent extends TokenEventBase {
  type: 'refresh-failed';
  error: RdsIamError;
  /** Consecutive failures so far. */
  failures: number;
  /** The next attempt happens on the first `getToken()` after this many ms. */
  retryInMs: number;
  usableUntil: number;
}

/** A token was dropped because a server rejected it or `invalidate()` was called. */
export interface TokenInvalidatedEvent extends TokenEventBase {
  type: 'invalidated';
  /** The dropped token's issue time, to tell which one it was. */
  issuedAt: number;
}

/** `getToken()` rejected: no usable token could be had. */
export interface TokenErrorEvent extends TokenEventBase {
  type: 'error';
  error: RdsIamError;
}

/**
 * What a token provider reports through `onEvent`, for metrics and logs. Events carry timings and
 * expiry times, never token text, so they are safe to log whole.
 *
 * @example
 * ```ts
 * const provider = createTokenProvider({
 *   host, user, port: 5432,
 *   onEvent: (e) => {
 *     if (e.type === 'refresh-failed') logger.warn({ err: e.error, retryInMs: e.retryInMs });
 *     if (e.type === 'minted') metrics.histogram('rds_iam_mint_ms', e.durationMs);
 *   },
 * });
 * ```
 */
export type TokenEvent =
  | TokenMintedEvent
  | TokenHitEvent
  | TokenRefreshFailedEvent
  | TokenInvalidatedEvent
  | TokenErrorEvent;
