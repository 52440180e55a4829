import { describe, expect, it } from 'vitest';
import { createIamConnector, createTokenProvider, parseAuthToken } from '../src/index.js';
import { fakeClock, isolateAwsEnvironment, MINUTE, STATIC_CREDENTIALS } from './helpers.js';

// Issue 24: a rejected login also drops the cached credentials of a source that can refresh them, so
// the retry signs with new keys (a revoked role session, keys rotated behind a container endpoint)
// rather than the same ones again.

const HOST = 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com';
isolateAwsEnvironment('rds-iam-rejected-');

/** A credential source that hands out a new key pair whenever it is asked with forceRefresh. */
function rotatingCredentials(now: () => number) {
  const calls: Array<{ forceRefresh?: boolean } | undefined> = [];
  let generation = 1;
  const credentials = async (options?: { forceRefresh?: boolean }) => {
    calls.push(options);
    if (options?.forceRefresh) generation += 1;
    return {
      accessKeyId: `ASIAROTATINGKEY0000${generation}`,
      secretAccessKey: `secret-${generation}`,
      sessionToken: `session-${generation}`,
      // Valid for hours: the source would not be asked again before the token expires.
      expiration: new Date(now() + 6 * 60 * MINUTE),
    };
  };
  return { credentials, calls };
}

const keyOf = (token: string) => parseAuthToken(token).accessKeyId;

describe('a rejected token makes the next mint ask the credential source again', () => {
  it('the token after invalidate() is signed with the keys the source hands out now', async () => {
    const clock = fakeClock();
    const source = rotatingCredentials(clock.now);
    const provider = createTokenProvider({
      host: HOST,
      port: 5432,
      user: 'app',
      credentials: source.credentials,
      now: clock.now,
    });
    const first = await provider.getToken();
    expect(keyOf(first)).toBe('ASIAROTATINGKEY00001');
    provider.invalidate(first);
    const second = await provider.getToken();
    expect(keyOf(second)).toBe('ASIAROTATINGKEY00002');
    expect(source.calls).toEqual([undefined, { forceRefresh: true }]);
  });

  it('without a rejection, the cached keys sign every mint', async () => {
    const clock = fakeClock();
    const source = rotatingCredentials(clock.now);
    const provider = createTokenProvider({
      host: HOST,
      port: 5432,
      user: 'app',
      credentials: source.credentials,
      now: clock.now,
    });
    await provider.getToken();
    clock.advance(20 * MINUTE); // the token is past its time; the credentials are not
    expect(keyOf(await provider.getToken())).toBe('ASIAROTATINGKEY00001');
    expect(source.calls).toHaveLength(1);
  });

  it('asks again at most once per 30 s, however many logins are rejected', async () => {
    const clock = fakeClock();
    const source = rotatingCredentials(clock.now);
    const provider = createTokenProvider({
      host: HOST,
      port: 5432,
      user: 'app',
      credentials: source.credentials,
      now: clock.now,
    });
    provider.invalidate(await provider.getToken());
    provider.invalidate(await provider.getToken()); // rejected again: a grant missing, say
    const third = await provider.getToken();
    expect(keyOf(third)).toBe('ASIAROTATINGKEY00002');
    expect(source.calls).toHaveLength(2);
    clock.advance(30_000);
    provider.invalidate(third);
    expect(keyOf(await provider.getToken())).toBe('ASIAROTATINGKEY00003');
    expect(source.calls).toHaveLength(3);
  });

  it('a late rejection of a token signed with keys already replaced asks nothing', async () => {
    const clock = fakeClock();
    const source = rotatingCredentials(clock.now);
    const options = {
      host: HOST,
      port: 5432,
      user: 'app',
      credentials: source.credentials,
      now: clock.now,
    };
    // Two endpoints, one identity: they share the credential source.
    const a = createTokenProvider(options);
    const b = createTokenProvider({ ...options, user: 'other' });
    const [tokenA, tokenB] = [await a.getToken(), await b.getToken()];
    a.invalidate(tokenA);
    expect(keyOf(await a.getToken())).toBe('ASIAROTATINGKEY00002');
    clock.advance(60_000);
    b.invalidate(tokenB); // signed with key 1, which the source no longer holds
    expect(keyOf(await b.getToken())).toBe('ASIAROTATINGKEY00002');
    expect(source.calls).toHaveLength(2);
  });

  it('static keys cannot be refreshed: the retry signs with them', async () => {
    const clock = fakeClock();
    const provider = createTokenProvider({
      host: HOST,
      port: 5432,
      user: 'app',
      credentials: STATIC_CREDENTIALS,
      now: clock.now,
    });
    provider.invalidate(await provider.getToken());
    expect(keyOf(await provider.getToken())).toBe(STATIC_CREDENTIALS.accessKeyId);
  });

  it("a connector's retry after a rejection logs in with the new keys", async () => {
    const clock = fakeClock();
    const source = rotatingCredentials(clock.now);
    const connector = createIamConnector(
      {
        host: HOST,
        user: 'app',
        credentials: source.credentials,
        now: clock.now,
        tokenProvider: createTokenProvider({
          host: HOST,
          port: 5432,
          user: 'app',
          credentials: source.credentials,
          now: clock.now,
        }),
      },
      'postgres',
    );
    // A server that accepts only keys of generation 2 or later.
    const keys: string[] = [];
    const login = async () => {
      const key = keyOf(await connector.password());
      keys.push(key);
      if (key === 'ASIAROTATINGKEY00001') {
        throw Object.assign(new Error('PAM authentication failed for user "app"'), {
          code: '28P01',
        });
      }
      return key;
    };
    await expect(connector.connect(login)).resolves.toBe('ASIAROTATINGKEY00002');
    expect(keys).toEqual(['ASIAROTATINGKEY00001', 'ASIAROTATINGKEY00002']);
  });
});
