import { Signer } from '@aws-sdk/rds-signer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RdsIamError } from '../src/errors.js';
import { parseAuthToken } from '../src/token.js';

const SIGNED_AT = Date.UTC(2025, 0, 1, 12, 30, 45);
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SESSION = 'IQoJb3JpZ2luX2VjEXAMPLE/session+token==';

interface SignOptions {
  hostname?: string;
  port?: number;
  username?: string;
  region?: string;
  sessionToken?: string;
  now?: number;
}

/** A real token from @aws-sdk/rds-signer, signed at a fixed time. */
async function realToken(options: SignOptions = {}): Promise<string> {
  const {
    hostname = 'mydb.cluster-c9akciq32xyz.us-east-1.rds.amazonaws.com',
    port = 5432,
    username = 'app_user',
    region = 'us-east-1',
    sessionToken,
    now = SIGNED_AT,
  } = options;
  vi.useFakeTimers({ now, toFake: ['Date'] });
  try {
    const signer = new Signer({
      hostname,
      port,
      username,
      region,
      credentials: {
        accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
        secretAccessKey: SECRET,
        ...(sessionToken === undefined ? {} : { sessionToken }),
      },
    });
    return await signer.getAuthToken();
  } finally {
    vi.useRealTimers();
  }
}

/** Catches the error `fn` throws, failing the test when it does not throw. */
function thrown(fn: () => unknown): RdsIamError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RdsIamError);
    return err as RdsIamError;
  }
  throw new Error('expected a throw');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('parseAuthToken on real tokens', () => {
  it('reads a token signed with long-term credentials', async () => {
    const token = await realToken();
    expect(parseAuthToken(token)).toEqual({
      host: 'mydb.cluster-c9akciq32xyz.us-east-1.rds.amazonaws.com',
      port: 5432,
      user: 'app_user',
      region: 'us-east-1',
      service: 'rds-db',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      issuedAt: new Date(SIGNED_AT),
      expiresAt: new Date(SIGNED_AT + 900_000),
      lifetimeSeconds: 900,
      hasSessionToken: false,
    });
  });

  it('reads a token signed with temporary credentials', async () => {
    const token = await realToken({ sessionToken: SESSION, port: 3306, region: 'eu-west-1' });
    expect(token).toContain('X-Amz-Security-Token=');
    const info = parseAuthToken(token);
    expect(info.hasSessionToken).toBe(true);
    expect(info.port).toBe(3306);
    expect(info.region).toBe('eu-west-1');
    expect(info.expiresAt.getTime() - info.issuedAt.getTime()).toBe(900_000);
  });

  it.each(['app+ro@x', 'user name', 'ü-ser/%&=?', 'a'.repeat(63)])(
    'decodes the user name %s',
    async (username) => {
      const token = await realToken({ username });
      expect(parseAuthToken(token).user).toBe(username);
    },
  );

  it('keeps the host as signed, including its case', async () => {
    const token = await realToken({ hostname: 'MyDB.Example.com', port: 15432 });
    expect(parseAuthToken(token)).toMatchObject({ host: 'MyDB.Example.com', port: 15432 });
  });

  it('reads a token signed for an IP address', async () => {
    const token = await realToken({ hostname: '127.0.0.1', port: 6432 });
    expect(parseAuthToken(token)).toMatchObject({ host: '127.0.0.1', port: 6432 });
  });

  it('accepts a leading https:// and a token URL-encoded once more', async () => {
    const token = await realToken({ sessionToken: SESSION, username: 'app+ro@x' });
    const expected = parseAuthToken(token);
    expect(parseAuthToken(`https://${token}`)).toEqual(expected);
    expect(parseAuthToken(`HTTPS://${token}`)).toEqual(expected);
    expect(parseAuthToken(encodeURIComponent(token))).toEqual(expected);
    expect(parseAuthToken(encodeURIComponent(`https://${token}`))).toEqual(expected);
    expect(parseAuthToken(` ${token}\n`)).toEqual(expected);
  });

  it('takes the date from the token, not from the clock', async () => {
    const token = await realToken({ now: Date.UTC(2031, 11, 31, 23, 59, 59) });
    const info = parseAuthToken(token);
    expect(info.issuedAt.toISOString()).toBe('2031-12-31T23:59:59.000Z');
    expect(info.expiresAt.toISOString()).toBe('2032-01-01T00:14:59.000Z');
  });
});

describe('parseAuthToken on malformed input', () => {
  const HOST = 'mydb.c9akciq32xyz.us-east-1.rds.amazonaws.com:5432/?';
  const signature = 'a'.repeat(64);
  const base: Record<string, string> = {
    Action: 'connect',
    DBUser: 'app_user',
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': 'AKIAIOSFODNN7EXAMPLE%2F20250101%2Fus-east-1%2Frds-db%2Faws4_request',
    'X-Amz-Date': '20250101T123045Z',
    'X-Amz-Expires': '900',
    'X-Amz-Security-Token': 'SECRETSESSIONTOKENVALUE',
    'X-Amz-SignedHeaders': 'host',
    'X-Amz-Signature': signature,
  };
  const build = (changes: Record<string, string | undefined>, prefix = HOST): string => {
    const params = { ...base, ...changes };
    return (
      prefix +
      Object.entries(params)
        .filter((entry): entry is [string, string] => entry[1] !== undefined)
        .map(([k, v]) => `${k}=${v}`)
        .join('&')
    );
  };

  it('accepts the hand-built baseline', () => {
    expect(parseAuthToken(build({})).user).toBe('app_user');
  });

  const cases: [string, string, RegExp][] = [
    ['empty', '', /empty/],
    ['whitespace only', '   ', /empty/],
    ['garbage', 'not a token at all', /no query string/],
    ['a password', 'hunter2-correct-horse-battery', /no query string/],
    ['a URL without a port', build({}, 'mydb.example.com/?'), /no port/],
    ['a bad port', build({}, 'mydb.example.com:99999/?'), /port/],
    ['a non-numeric port', build({}, 'mydb.example.com:pg/?'), /port/],
    ['a path', build({}, 'mydb.example.com:5432/login?'), /a path/],
    ['user info', build({}, 'user:pass@mydb.example.com:5432/?'), /hostname/],
    ['a different Action', build({ Action: 'DescribeDBInstances' }), /Action is not `connect`/],
    ['no Action', build({ Action: undefined }), /Action is missing/],
    ['no DBUser', build({ DBUser: undefined }), /DBUser/],
    ['an empty DBUser', build({ DBUser: '' }), /DBUser/],
    ['the wrong algorithm', build({ 'X-Amz-Algorithm': 'AWS4-HMAC-SHA1' }), /X-Amz-Algorithm/],
    ['no X-Amz-Date', build({ 'X-Amz-Date': undefined }), /X-Amz-Date is missing/],
    ['a malformed X-Amz-Date', build({ 'X-Amz-Date': '2025-01-01T12:30:45Z' }), /X-Amz-Date/],
    ['an impossible X-Amz-Date', build({ 'X-Amz-Date': '20250230T123045Z' }), /X-Amz-Date/],
    ['non-numeric X-Amz-Expires', build({ 'X-Amz-Expires': 'soon' }), /X-Amz-Expires/],
    ['a fractional X-Amz-Expires', build({ 'X-Amz-Expires': '900.5' }), /X-Amz-Expires/],
    ['a zero X-Amz-Expires', build({ 'X-Amz-Expires': '0' }), /X-Amz-Expires/],
    ['an over-long X-Amz-Expires', build({ 'X-Amz-Expires': '604801' }), /X-Amz-Expires/],
    ['no X-Amz-Expires', build({ 'X-Amz-Expires': undefined }), /X-Amz-Expires is missing/],
    ['no X-Amz-Credential', build({ 'X-Amz-Credential': undefined }), /X-Amz-Credential/],
    ['a short X-Amz-Credential', build({ 'X-Amz-Credential': 'AKID%2F20250101' }), /Credential/],
    [
      'a credential dated another day',
      build({
        'X-Amz-Credential': 'AKIAIOSFODNN7EXAMPLE%2F20241231%2Fus-east-1%2Frds-db%2Faws4_request',
      }),
      /day of X-Amz-Date/,
    ],
    ['no signature', build({ 'X-Amz-Signature': undefined }), /X-Amz-Signature/],
    ['a short signature', build({ 'X-Amz-Signature': 'abc123' }), /X-Amz-Signature/],
    ['no signed headers', build({ 'X-Amz-SignedHeaders': undefined }), /SignedHeaders/],
    ['host not signed', build({ 'X-Amz-SignedHeaders': 'x-amz-date' }), /SignedHeaders/],
    ['an empty session token', build({ 'X-Amz-Security-Token': '' }), /Security-Token/],
    ['bad percent-encoding', build({ DBUser: 'app%E0%A4%A' }), /percent-encoding/],
    ['a repeated parameter', `${build({})}&X-Amz-Signature=${signature}`, /appears twice/],
    ['a repeated unknown parameter', `${build({})}&evil=1&evil=2`, /unknown name/],
  ];

  it.each(cases)('rejects %s with ERR_INVALID_TOKEN', (_, input, reason) => {
    const err = thrown(() => parseAuthToken(input));
    expect(err.code).toBe('ERR_INVALID_TOKEN');
    expect(err.message).toMatch(reason);
    expect(err.message).toMatch(/^rds-iam: the string is not an RDS IAM auth token: /);
    for (const secret of [input.trim(), signature, 'SECRETSESSIONTOKENVALUE', 'hunter2', 'pass@']) {
      if (secret === '') continue;
      expect(err.message).not.toContain(secret);
      expect(err.stack ?? '').not.toContain(secret);
    }
    expect(err.cause).toBeUndefined();
  });

  it('never quotes a real token it rejects', async () => {
    const token = await realToken({ sessionToken: SESSION });
    const broken = token.replace('Action=connect', 'Action=other');
    const err = thrown(() => parseAuthToken(broken));
    const signatureValue = /X-Amz-Signature=([0-9a-f]+)/.exec(token)?.[1] ?? 'missing';
    for (const text of [
      broken,
      signatureValue,
      encodeURIComponent(SESSION),
      'AKIAIOSFODNN7EXAMPLE',
    ]) {
      expect(err.message).not.toContain(text);
      expect(err.stack ?? '').not.toContain(text);
    }
  });

  it.each([
    ['null', null],
    ['a number', 42],
    ['an object', { token: 'x' }],
  ])('rejects %s', (_, value) => {
    expect(thrown(() => parseAuthToken(value as unknown as string)).code).toBe('ERR_INVALID_TOKEN');
  });

  it('describes the input by its length', () => {
    expect(thrown(() => parseAuthToken('x'.repeat(37))).message).toContain('37 characters');
  });
});
