import { describe, expect, it } from 'vitest';
import { createIamConnector, RdsIamError, withoutPassword } from '../src/index.js';

describe('withoutPassword', () => {
  it("takes '' and null as no password and leaves them out", () => {
    expect(withoutPassword({ host: 'h', password: '' })).toEqual({ host: 'h' });
    expect(withoutPassword({ host: 'h', password: null })).toEqual({ host: 'h' });
    expect(withoutPassword({ host: 'h', password: undefined })).toEqual({ host: 'h' });
    const options = { host: 'h' };
    expect(withoutPassword(options)).toBe(options);
  });

  it('refuses any other password, naming the option and where it is', () => {
    for (const password of [' ', 'x', 0, false, () => 'x']) {
      expect(() => withoutPassword({ password })).toThrow(RdsIamError);
    }
    expect(() => withoutPassword({ pass: 'x' }, { keys: ['password', 'pass'] })).toThrow(
      /`pass` was given, .* Remove `pass` \(an empty string or null is taken as none\)/,
    );
    expect(() => withoutPassword({ password: 'x' }, { where: 'a replica' })).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFLICTING_OPTIONS',
        message: expect.stringMatching(/^rds-iam: a replica has a `password`/),
      }),
    );
  });

  it("says so when the password is the text 'null', as an env file gives DB_PASSWORD=null", () => {
    expect(() => withoutPassword({ password: 'null' })).toThrow(
      /It is the text 'null', as an env file spells it: leave the variable empty instead\./,
    );
    expect(() => withoutPassword({ password: 'hunter2' })).not.toThrow(/env file/);
  });

  it('is the rule of createIamConnector too', () => {
    const sign = () => 'never-used';
    const base = { host: 'mydb.abc123xyz.us-east-1.rds.amazonaws.com', user: 'app', sign };
    expect(() => createIamConnector({ ...base, password: '' }, 'postgres').close()).not.toThrow();
    expect(() => createIamConnector({ ...base, password: 'x' as never }, 'postgres')).toThrow(
      expect.objectContaining({ code: 'ERR_CONFLICTING_OPTIONS' }),
    );
  });
});
