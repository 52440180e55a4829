import { describe, expect, it } from 'vitest';
import { sharedTokenProvider, type TokenEvent } from '../src/index.js';
import { countingSigner, fakeClock, STATIC_CREDENTIALS } from './helpers.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';

describe('sharedTokenProvider', () => {
  it('shares one cache per identity and endpoint, with an onEvent per handle', async () => {
    const clock = fakeClock();
    const signer = countingSigner();
    const eventsA: TokenEvent[] = [];
    const eventsB: TokenEvent[] = [];
    const common = {
      host: HOST,
      port: 5432,
      user: 'app',
      credentials: STATIC_CREDENTIALS,
      now: clock.now,
      sign: signer.sign,
    };
    const a = sharedTokenProvider({ ...common, onEvent: (e) => eventsA.push(e) });
    const b = sharedTokenProvider({
      ...common,
      host: HOST.toUpperCase(),
      onEvent: (e) => eventsB.push(e),
    });
    const other = sharedTokenProvider({ ...common, user: 'other' });
    expect(await a.getToken()).toBe(await b.getToken());
    await other.getToken();
    expect(signer.calls).toHaveLength(2);
    expect(eventsA.some((e) => e.type === 'minted')).toBe(true);
    expect(eventsB.some((e) => e.type === 'hit')).toBe(true);
    a.close();
    expect(await b.getToken()).toBeTypeOf('string');
    b.close();
    await expect(b.getToken()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    // After the last handle closed, a new handle starts a new cache.
    const c = sharedTokenProvider(common);
    await c.getToken();
    expect(signer.calls).toHaveLength(3);
    c.close();
    other.close();
  });

  it('keeps callers with different credentialsTimeoutMs apart: each mints with its own deadline', async () => {
    const clock = fakeClock();
    const signer = countingSigner();
    const common = {
      host: HOST,
      port: 5432,
      user: 'app',
      credentials: STATIC_CREDENTIALS,
      now: clock.now,
      sign: signer.sign,
    };
    const patient = sharedTokenProvider({ ...common, credentialsTimeoutMs: 5_000 });
    const hasty = sharedTokenProvider({ ...common, credentialsTimeoutMs: 200 });
    const alsoHasty = sharedTokenProvider({ ...common, credentialsTimeoutMs: 200 });
    await patient.getToken();
    await hasty.getToken();
    expect(await alsoHasty.getToken()).toBe(await hasty.getToken());
    expect(signer.calls).toHaveLength(2);
    for (const p of [patient, hasty, alsoHasty]) p.close();
  });
});
