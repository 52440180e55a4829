import { credentialSource } from './credentials.js';
import { RdsIamError } from './errors.js';
import type { TokenEvent } from './events.js';
import { resolveOptions, type TokenProviderOptions } from './options.js';
import { CachingTokenProvider, type TokenProvider } from './provider.js';

interface Entry {
  provider: CachingTokenProvider;
  handles: number;
}

const registry = new Map<string, Entry>();
const functionIds = new WeakMap<object, number>();
let nextFunctionId = 0;

function identityOf(fn: unknown): string {
  if (typeof fn !== 'function') return '-';
  let id = functionIds.get(fn);
  if (id === undefined) {
    id = ++nextFunctionId;
    functionIds.set(fn, id);
  }
  return String(id);
}

/**
 * The cache key: who signs (credential identity), for what (region, signing endpoint, user), the
 * cache's timings, and the test hooks, so a test's fake clock or signer never leaks into another
 * caller's cache.
 */
function keyOf(options: TokenProviderOptions): string {
  const resolved = resolveOptions(options);
  const credentials =
    options.sign && !options.credentials
      ? 'none'
      : credentialSource(options.credentials, options.profile).id;
  return JSON.stringify([
    resolved.region ?? '',
    resolved.signingHost.toLowerCase(),
    resolved.signingPort,
    resolved.user,
    credentials,
    identityOf(options.sign),
    identityOf(options.now),
    resolved.expiryMarginMs,
    resolved.refreshAheadMs,
    // The shared provider mints with its creator's deadline: a caller that asked for a shorter wait
    // on a hung credential source must not inherit a longer one.
    resolved.credentialsTimeoutMs,
  ]);
}

/**
 * Like {@link createTokenProvider}, but returns a handle on one provider per (region, signing
 * endpoint, user, credential identity) for the whole process: knex, TypeORM and a raw pg pool in one
 * app share tokens and mints. Each handle has its own `onEvent`; `close()` closes the handle, and the
 * shared cache goes when its last handle is closed.
 *
 * @example
 * ```ts
 * const a = sharedTokenProvider({ host, port: 5432, user: 'app' });
 * const b = sharedTokenProvider({ host, port: 5432, user: 'app' });
 * await a.getToken(); // mints
 * await b.getToken(); // served from the same cache
 * ```
 */
export function sharedTokenProvider(options: TokenProviderOptions): TokenProvider {
  const key = keyOf(options);
  let entry = registry.get(key);
  if (!entry) {
    const { onEvent: _ownListenerPerHandle, ...rest } = options;
    entry = { provider: new CachingTokenProvider(rest), handles: 0 };
    registry.set(key, entry);
  }
  entry.handles += 1;
  const shared = entry;
  const removeListener = options.onEvent
    ? shared.provider.addListener(options.onEvent as (event: TokenEvent) => void)
    : () => {};
  let closed = false;
  return {
    getToken: () =>
      closed
        ? Promise.reject(new RdsIamError('ERR_CLOSED', 'rds-iam: this token provider was closed.'))
        : shared.provider.getToken(),
    invalidate: (token?: string) => shared.provider.invalidate(token),
    peek: () => shared.provider.peek(),
    close: () => {
      if (closed) return;
      closed = true;
      removeListener();
      shared.handles -= 1;
      if (shared.handles === 0) {
        shared.provider.close();
        if (registry.get(key) === shared) registry.delete(key);
      }
    },
  };
}
