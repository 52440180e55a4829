import { describe, expect, it } from 'vitest';
import { mergeDatabaseUrl, parseDatabaseUrl } from '../src/index.js';

const spec = { option: 'uri', protocols: ['mysql'] };

describe('database URLs', () => {
  it('merges the URL under explicit options that are set', () => {
    expect(
      mergeDatabaseUrl(
        { database: 'shop', port: undefined },
        'mysql://app%2Bro@db.example.com:3307/ignored',
        spec,
      ),
    ).toEqual({ host: 'db.example.com', port: 3307, user: 'app+ro', database: 'shop' });
    expect(mergeDatabaseUrl({ host: 'h' }, undefined, spec)).toEqual({ host: 'h' });
  });

  it('refuses a password, a query parameter and another scheme', () => {
    expect(() => mergeDatabaseUrl({}, 'mysql://app:pw@db/x', spec)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFLICTING_OPTIONS' }),
    );
    expect(() => mergeDatabaseUrl({}, 'mysql://app@db/x?ssl=false', spec)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringMatching(/'ssl'/),
      }),
    );
    expect(() => parseDatabaseUrl('postgres://app@db/x', spec)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringMatching(/mysql:\/\//),
      }),
    );
  });
});
