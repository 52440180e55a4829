import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  createTokenProvider,
  parseAuthToken,
  RdsIamError,
  type TokenEvent,
  type TokenProviderOptions,
} from '../src/index.js';
import { backoffMs } from '../src/provider.js';
import { countingSigner, fakeClock, MINUTE, STATIC_CREDENTIALS, secretsOf } from './helpers.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';

function setup(extra: Partial<TokenProviderOptions> = {}) {
  const clock = fakeClock();
  const signer = countingSigner();
  const events: TokenEvent[] = [];
  const provider = createTokenProvider({
    host: HOST,
    port: 5432,
    user: 'app',
    credentials: STATIC_CREDENTIALS,
    now: clock.now,
    sign: signer.sign,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { clock, signer, events, provider };
}

describe('single-flight', () => {
  it('1,000 concurrent callers on a cold cache share one mint; a warm cache mints none', async () => {
    const { provider, signer } = setup();
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => provider.getToken()));
    expect(signer.calls).toHaveLength(1);
    expect(new Set(tokens).size).toBe(1);
    const warm = await Promise.all(Array.from({ length: 1000 }, () => provider.getToken()));
    expect(signer.calls).toHaveLength(1);
    expect(warm.every((t) => t === tokens[0])).toBe(true);
  });

  it('signs for the signing endpoint with the region from the hostname', async () => {
    const { provider } = setup({
      host: '127.0.0.1',
      port: 15432,
      signingHost: HOST,
      signingPort: 5432,
    });
    const info = parseAuthToken(await provider.getToken());
    expect(info).toMatchObject({ host: HOST, port: 5432, user: 'app', region: 'us-east-1' });
  });
});

describe('expiry', () => {
  it('never hands out a token after T + 15 min - margin', async () => {
    const { provider, signer, clock } = setup({ expiryMarginMs: MINUTE, refreshAheadMs: MINUTE });
    const t0 = clock.time;
    const first = await provider.getToken();
    expect(parseAuthToken(first).issuedAt.getTime()).toBe(t0);
    for (let elapsed = 0; elapsed <= 20 * MINUTE; elapsed += 10_000) {
      const token = await provider.getToken();
      const { issuedAt } = parseAuthToken(token);
      // Every token handed out has at least the margin left on the clock of the hand-out.
      expect(issuedAt.getTime() + 15 * MINUTE - MINUTE).toBeGreaterThan(clock.time);
      if (clock.time >= t0 + 14 * MINUTE) expect(token).not.toBe(first);
      clock.advance(10_000);
    }
    expect(signer.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('caps expiry at the credentials’ expiry: never after T + 4 min - margin', async () => {
    const clock = fakeClock();
    const t0 = clock.time;
    let credentialCalls = 0;
    const credentials = async () => {
      credentialCalls += 1;
      return { ...STATIC_CREDENTIALS, expiration: new Date(clock.now() + 4 * MINUTE) };
    };
    const { provider } = setup({ credentials, now: clock.now });
    const first = await provider.getToken();
    expect(provider.peek()?.expiresAt.getTime()).toBe(t0 + 4 * MINUTE);
    expect(provider.peek()?.usableUntil.getTime()).toBe(t0 + 3 * MINUTE);
    clock.advance(3 * MINUTE - 1);
    expect(await provider.getToken()).toBe(first);
    clock.advance(1);
    const second = await provider.getToken();
    expect(second).not.toBe(first);
    expect(credentialCalls).toBeGreaterThanOrEqual(2);
  });

  it('after a one-hour wall-clock jump, mints a fresh token and never returns the old one', async () => {
    const { provider, signer, clock } = setup();
    const old = await provider.getToken();
    clock.advance(60 * MINUTE);
    const results = await Promise.all(Array.from({ length: 50 }, () => provider.getToken()));
    expect(results.every((t) => t !== old)).toBe(true);
    expect(new Set(results).size).toBe(1);
    expect(parseAuthToken(results[0]!).issuedAt.getTime()).toBe(clock.time);
    expect(signer.calls).toHaveLength(2);
  });
});

describe('stale-while-revalidate', () => {
  it('inside refreshAheadMs returns at once with a slow signer and starts exactly one background mint', async () => {
    const { provider, signer, clock, events } = setup();
    const first = await provider.getToken();
    clock.advance(11 * MINUTE); // 4 minutes left: inside the 5-minute refresh window
    const release = signer.hold();
    const served = await Promise.all(Array.from({ length: 100 }, () => provider.getToken()));
    expect(served.every((t) => t === first)).toBe(true);
    expect(signer.calls).toHaveLength(2);
    release();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const next = await provider.getToken();
    expect(next).not.toBe(first);
    expect(signer.calls).toHaveLength(2);
    const minted = events.filter((e) => e.type === 'minted');
    expect(minted.map((e) => e.type === 'minted' && e.background)).toEqual([false, true]);
  });
});

describe('failing signer', () => {
  it('keeps serving the usable token, reports refresh-failed, backs off, and recovers', async () => {
    const { provider, signer, clock, events } = setup();
    const first = await provider.getToken();
    clock.advance(11 * MINUTE);
    signer.fail(new Error('network down'));
    expect(await provider.getToken()).toBe(first);
    await new Promise((r) => setImmediate(r));
    const failed = events.filter((e) => e.type === 'refresh-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ failures: 1 });
    // During the backoff window no new attempt is made.
    const attempts = signer.calls.length;
    expect(await provider.getToken()).toBe(first);
    expect(signer.calls).toHaveLength(attempts);
    signer.fail(undefined);
    clock.advance(30_001);
    expect(await provider.getToken()).toBe(first); // stale token served, refresh starts
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(await provider.getToken()).not.toBe(first);
  });

  it('with no usable token rejects with an RdsIamError naming the cause and what to check', async () => {
    const { provider, signer, events } = setup();
    signer.fail(new Error('connect ETIMEDOUT 169.254.169.254:80'));
    const err = await provider.getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RdsIamError);
    expect((err as RdsIamError).code).toBe('ERR_SIGNING');
    expect((err as RdsIamError).message).toMatch(
      /app@mydb\.abc123xyz.*ETIMEDOUT.*Check the AWS credentials/,
    );
    expect(events.some((e) => e.type === 'error')).toBe(true);
  });

  it('fails fast during backoff, and the backoff grows to a 30 s cap', async () => {
    const { provider, signer, clock } = setup();
    signer.fail(new Error('boom'));
    await expect(provider.getToken()).rejects.toThrow(RdsIamError);
    await expect(provider.getToken()).rejects.toThrow(RdsIamError);
    expect(signer.calls).toHaveLength(1);
    let attempts = 1;
    for (let i = 0; i < 12; i++) {
      clock.advance(30_000);
      await expect(provider.getToken()).rejects.toThrow(/boom/);
      attempts += 1;
      expect(signer.calls).toHaveLength(attempts);
    }
    signer.fail(undefined);
    clock.advance(30_000);
    await expect(provider.getToken()).resolves.toMatch(/X-Amz-Signature=/);
    const delays = Array.from({ length: 10 }, (_, i) => backoffMs(i + 1, () => 1));
    expect(delays.slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 16000, 30000]);
    expect(Math.max(...delays)).toBe(30_000);
    expect(backoffMs(3, () => 0)).toBe(2000);
  });
});

describe('invalidate', () => {
  it('drops only the given token; invalidating an older token keeps the newer one', async () => {
    const { provider, signer, clock } = setup();
    const first = await provider.getToken();
    provider.invalidate(first);
    expect(provider.peek()).toBeUndefined();
    clock.advance(1000);
    const second = await provider.getToken();
    expect(second).not.toBe(first);
    expect(signer.calls).toHaveLength(2);
    provider.invalidate(first); // a late rejection of the old token
    expect(await provider.getToken()).toBe(second);
    expect(signer.calls).toHaveLength(2);
    provider.invalidate('not-a-token-we-have');
    expect(await provider.getToken()).toBe(second);
  });
});

describe('secrets', () => {
  it('never shows token text in errors, stacks, events or inspect output', async () => {
    const { provider, signer, clock, events } = setup();
    const token = await provider.getToken();
    const secrets = secretsOf(token);
    expect(secrets.length).toBeGreaterThan(0);
    clock.advance(11 * MINUTE);
    // A driver error that quotes the password it was given.
    signer.fail(
      Object.assign(new Error(`password authentication failed: ${token}`), { code: 'X' }),
    );
    await provider.getToken();
    await new Promise((r) => setImmediate(r));
    clock.advance(10 * MINUTE);
    const err = await provider.getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RdsIamError);
    const seen = [
      String(err),
      (err as Error).stack,
      inspect(err, { depth: 10 }),
      JSON.stringify(events),
      inspect(events, { depth: 10 }),
      inspect(provider, { depth: 10, showHidden: true }),
      JSON.stringify(provider),
    ].join('\n');
    for (const secret of secrets) expect(seen).not.toContain(secret);
    expect(seen).toContain('[redacted]');
  });
});

describe('close', () => {
  it('rejects later calls with ERR_CLOSED', async () => {
    const { provider } = setup();
    await provider.getToken();
    provider.close();
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});
