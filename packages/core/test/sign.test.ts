import { Signer } from '@aws-sdk/rds-signer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseAuthToken } from '../src/index.js';
import { signRdsToken } from '../src/sign.js';
import { STATIC_CREDENTIALS } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('signRdsToken', () => {
  for (const sessionToken of [undefined, 'FwoGZXIvYXdzEXAMPLE//session+token=']) {
    it(`matches @aws-sdk/rds-signer byte for byte (${sessionToken ? 'with' : 'without'} a session token)`, async () => {
      const credentials = { ...STATIC_CREDENTIALS, ...(sessionToken ? { sessionToken } : {}) };
      const at = new Date(Date.UTC(2026, 4, 1, 8, 30, 5));
      vi.useFakeTimers({ now: at, toFake: ['Date'] });
      const reference = await new Signer({
        hostname: 'mydb.abc123.us-west-2.rds.amazonaws.com',
        port: 3306,
        username: 'app+ro@x',
        region: 'us-west-2',
        credentials,
      }).getAuthToken();
      vi.useRealTimers();
      const ours = await signRdsToken({
        hostname: 'mydb.abc123.us-west-2.rds.amazonaws.com',
        port: 3306,
        username: 'app+ro@x',
        region: 'us-west-2',
        signingDate: at,
        credentials,
      });
      expect(ours).toBe(reference);
    });
  }

  it('brackets an IPv6 signing host so the token parses back', async () => {
    const token = await signRdsToken({
      hostname: '::1',
      port: 5432,
      username: 'app',
      region: 'us-east-1',
      signingDate: new Date(),
      credentials: STATIC_CREDENTIALS,
    });
    expect(token.startsWith('[::1]:5432/?')).toBe(true);
    expect(parseAuthToken(token)).toMatchObject({ port: 5432, user: 'app' });
  });

  it('refuses to sign without credentials', async () => {
    await expect(
      signRdsToken({
        hostname: 'h',
        port: 1,
        username: 'u',
        region: 'us-east-1',
        signingDate: new Date(),
        credentials: undefined,
      }),
    ).rejects.toMatchObject({ code: 'ERR_SIGNING' });
  });
});
