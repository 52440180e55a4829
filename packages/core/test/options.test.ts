import { describe, expect, it, vi } from 'vitest';
import { createTokenProvider, RdsIamError, type TokenProviderOptions } from '../src/index.js';
import { STATIC_CREDENTIALS } from './helpers.js';

const base: TokenProviderOptions = {
  host: 'mydb.abc123xyz.us-east-1.rds.amazonaws.com',
  port: 5432,
  user: 'app',
  credentials: STATIC_CREDENTIALS,
};

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RdsIamError);
    return { code: (err as RdsIamError).code, message: (err as RdsIamError).message };
  }
  throw new Error('expected an RdsIamError');
}

describe('bad input fails at creation, before any network call', () => {
  const cases: Array<
    [string, Partial<Record<keyof TokenProviderOptions, unknown>>, string, RegExp]
  > = [
    ['empty host', { host: '' }, 'ERR_INVALID_HOST', /`host` is empty.*endpoint/],
    ['missing host', { host: undefined }, 'ERR_INVALID_HOST', /`host` is missing/],
    [
      'host with a scheme',
      { host: 'postgres://db.example.com' },
      'ERR_INVALID_HOST',
      /bare hostname, not a URL.*Remove the scheme/,
    ],
    [
      'host with a port',
      { host: 'db.example.com:5432' },
      'ERR_INVALID_HOST',
      /Pass the port in `port`/,
    ],
    ['port 0', { port: 0 }, 'ERR_INVALID_PORT', /`port` must be an integer from 1 to 65535, got 0/],
    ['port 70000', { port: 70000 }, 'ERR_INVALID_PORT', /got 70000/],
    ['port NaN', { port: Number.NaN }, 'ERR_INVALID_PORT', /got NaN/],
    [
      'port missing without engine',
      { port: undefined },
      'ERR_INVALID_PORT',
      /Set `port`.*or `engine`/,
    ],
    ['signingPort 1.5', { signingPort: 1.5 }, 'ERR_INVALID_PORT', /`signingPort`/],
    ['empty user', { user: '' }, 'ERR_INVALID_USER', /`user` is empty.*IAM authentication/],
    [
      'signingHost with a scheme',
      { signingHost: 'https://x.rds.amazonaws.com' },
      'ERR_INVALID_HOST',
      /`signingHost`/,
    ],
    ['bad region', { region: 'Frankfurt' }, 'ERR_INVALID_OPTION', /`region`.*us-east-1/],
    [
      'bad credentials',
      { credentials: { accessKeyId: 1 } },
      'ERR_INVALID_OPTION',
      /`credentials` must be/,
    ],
    ['negative margin', { expiryMarginMs: -1 }, 'ERR_INVALID_OPTION', /`expiryMarginMs`/],
    ['margin eats the token', { expiryMarginMs: 850_000 }, 'ERR_INVALID_OPTION', /at most 840000/],
    [
      'onEvent not a function',
      { onEvent: 'log' },
      'ERR_INVALID_OPTION',
      /`onEvent` must be a function/,
    ],
    ['unknown engine', { port: undefined, engine: 'oracle' }, 'ERR_INVALID_OPTION', /`engine`/],
  ];
  for (const [name, patch, code, message] of cases) {
    it(name, () => {
      const sign = vi.fn();
      const result = codeOf(() =>
        createTokenProvider({ ...base, ...patch, sign } as unknown as TokenProviderOptions),
      );
      expect(result.code).toBe(code);
      expect(result.message).toMatch(message);
      expect(sign).not.toHaveBeenCalled();
    });
  }

  it('defaults the port from the engine', async () => {
    const sign = vi.fn(() => ({ token: 't', expiresAt: Date.now() + 900_000 }));
    const provider = createTokenProvider({ ...base, port: undefined, engine: 'mysql', sign });
    await provider.getToken();
    expect(sign).toHaveBeenCalledWith(expect.objectContaining({ port: 3306 }));
  });

  it('a non-RDS host with no region anywhere fails with ERR_REGION_NOT_FOUND before signing', async () => {
    const saved = { ...process.env };
    try {
      delete process.env.AWS_REGION;
      delete process.env.AWS_DEFAULT_REGION;
      delete process.env.AWS_PROFILE;
      process.env.AWS_CONFIG_FILE = '/nonexistent/rds-iam-test/config';
      const sign = vi.fn();
      const credentials = vi.fn(async () => STATIC_CREDENTIALS);
      const provider = createTokenProvider({
        ...base,
        host: 'db.internal.example',
        credentials,
        sign,
      });
      const err = await provider.getToken().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_REGION_NOT_FOUND' });
      expect((err as Error).message).toMatch(/Pass `region`.*or `signingHost`/);
      expect(sign).not.toHaveBeenCalled();
      expect(credentials).not.toHaveBeenCalled();
    } finally {
      process.env = saved;
    }
  });
});
