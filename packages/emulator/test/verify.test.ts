import { describe, expect, it } from 'vitest';
import type { VerifyResult } from '../src/context.js';
import { createVerifier, DEMO_CREDENTIALS, type EmulatorCredentials } from '../src/verify.js';
import { ourToken, sdkToken, signedAtOf } from './helpers.js';

const endpoint = { host: 'mydb.abc123.us-east-1.rds.amazonaws.com', port: 5432 };
const region = 'us-east-1';
const TEMP: EmulatorCredentials = {
  accessKeyId: 'ASIAEMULATORTEMP0001',
  secretAccessKey: 'temp/secret/key/0001',
  sessionToken: `IQoJb3JpZ2luX2VjE${'Zm9vYmFy+/='.repeat(200)}`, // ~2.4 KB, like a real STS token
  expiration: new Date('2030-01-01T00:00:00Z'),
};

function verifier(now: number, credentials: EmulatorCredentials[] = [DEMO_CREDENTIALS, TEMP]) {
  return createVerifier({ region, endpoint, credentials, now: () => now });
}

function expectReject(r: VerifyResult, reason: string): void {
  expect(r.ok).toBe(false);
  if (!r.ok) {
    expect(r.reason).toBe(reason);
    expect(r.detail.length).toBeGreaterThan(0);
  }
}

function noSecrets(r: VerifyResult, token: string): void {
  if (r.ok) return;
  const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(token)?.[1] ?? 'none';
  expect(r.detail).not.toContain(sig);
  expect(r.detail).not.toContain('Zm9vYmFy');
  expect(r.detail).not.toContain(DEMO_CREDENTIALS.secretAccessKey);
}

const sdk = (
  over: Partial<{
    host: string;
    port: number;
    user: string;
    region: string;
    credentials: EmulatorCredentials;
  }> = {},
) => sdkToken({ ...endpoint, user: 'app', region, credentials: DEMO_CREDENTIALS, ...over });

describe('createVerifier: accepts', () => {
  it('a token from @aws-sdk/rds-signer', async () => {
    const token = await sdk();
    const r = verifier(signedAtOf(token) + 1_000)(token, 'app');
    expect(r).toEqual({ ok: true, user: 'app', accessKeyId: DEMO_CREDENTIALS.accessKeyId });
  });

  it('a 2 KB+ token with a session token', async () => {
    const token = await sdk({ credentials: TEMP });
    expect(token.length).toBeGreaterThan(2048);
    expect(verifier(signedAtOf(token))(token, 'app').ok).toBe(true);
  });

  it('users with characters that need encoding, and the host in another case', async () => {
    const user = 'app user+x/ü';
    const token = await sdk({ user, host: endpoint.host.toUpperCase() });
    expect(verifier(signedAtOf(token))(token, user).ok).toBe(true);
  });

  it('a token at the edges of its validity', async () => {
    const token = await sdk();
    const at = signedAtOf(token);
    expect(verifier(at + 900_000)(token, 'app').ok).toBe(true);
    expect(verifier(at - 5 * 60_000)(token, 'app').ok).toBe(true);
  });

  it('a token from our own presigner (matches the SDK)', async () => {
    const at = Date.UTC(2025, 0, 2, 3, 4, 5);
    const token = ourToken({ ...endpoint, user: 'app', ...DEMO_CREDENTIALS, signedAt: at });
    expect(verifier(at)(token, 'app').ok).toBe(true);
  });

  it('the last registered entry for an access key id', async () => {
    const token = await sdk();
    const old = { ...DEMO_CREDENTIALS, secretAccessKey: 'old' };
    expect(verifier(signedAtOf(token), [old, DEMO_CREDENTIALS])(token, 'app').ok).toBe(true);
  });
});

describe('createVerifier: rejects', () => {
  it('malformed tokens', () => {
    const v = verifier(Date.now());
    for (const t of [
      '',
      'hunter2',
      'host:5432/?Action=connect',
      'host:5432/?Action=connect&Action=connect',
      `${'x'.repeat(40_000)}/?a=b`,
      'host:5432/?%E0%A4%A=1',
    ]) {
      expectReject(v(t, 'app'), 'malformed');
    }
  });

  it('malformed: a token whose date is not a date', async () => {
    const token = (await sdk()).replace(/X-Amz-Date=\d{8}T/, 'X-Amz-Date=20241399T');
    expectReject(verifier(Date.now())(token, 'app'), 'malformed');
  });

  it('bad-signature: one character of the signature changed', async () => {
    const token = await sdk();
    const tampered = token.replace(
      /(X-Amz-Signature=)(.)/,
      (_, k: string, c: string) => `${k}${c === 'a' ? 'b' : 'a'}`,
    );
    const r = verifier(signedAtOf(token))(tampered, 'app');
    expectReject(r, 'bad-signature');
    noSecrets(r, tampered);
  });

  it('bad-signature: the signed query altered (DBUser swapped after signing)', async () => {
    const token = (await sdk()).replace('DBUser=app', 'DBUser=admin');
    expectReject(verifier(signedAtOf(token))(token, 'admin'), 'bad-signature');
  });

  it('bad-signature: signed with another secret key', async () => {
    const token = await sdk({ credentials: { ...DEMO_CREDENTIALS, secretAccessKey: 'other' } });
    expectReject(verifier(signedAtOf(token))(token, 'app'), 'bad-signature');
  });

  it('wrong-user', async () => {
    const token = await sdk({ user: 'other' });
    const r = verifier(signedAtOf(token))(token, 'app');
    expectReject(r, 'wrong-user');
    noSecrets(r, token);
  });

  it('wrong-host', async () => {
    const token = await sdk({ host: 'other.abc123.us-east-1.rds.amazonaws.com' });
    expectReject(verifier(signedAtOf(token))(token, 'app'), 'wrong-host');
  });

  it('wrong-port', async () => {
    const token = await sdk({ port: 5433 });
    expectReject(verifier(signedAtOf(token))(token, 'app'), 'wrong-port');
  });

  it('wrong-region', async () => {
    const token = await sdk({ region: 'eu-west-1' });
    expectReject(verifier(signedAtOf(token))(token, 'app'), 'wrong-region');
  });

  it('wrong-service', () => {
    const at = Date.now();
    const token = ourToken({
      ...endpoint,
      user: 'app',
      ...DEMO_CREDENTIALS,
      signedAt: at,
      service: 's3',
    });
    expectReject(verifier(at)(token, 'app'), 'wrong-service');
  });

  it('wrong-action', () => {
    const at = Date.now();
    const token = ourToken({
      ...endpoint,
      user: 'app',
      ...DEMO_CREDENTIALS,
      signedAt: at,
      action: 'DescribeDBInstances',
    });
    expectReject(verifier(at)(token, 'app'), 'wrong-action');
  });

  it('expired: 16 minutes after signing', async () => {
    const token = await sdk();
    const r = verifier(signedAtOf(token) + 16 * 60_000)(token, 'app');
    expectReject(r, 'expired');
    noSecrets(r, token);
  });

  it('not-yet-valid: server clock 6 minutes behind', async () => {
    const token = await sdk();
    expectReject(verifier(signedAtOf(token) - 6 * 60_000)(token, 'app'), 'not-yet-valid');
  });

  it('lifetime-too-long: X-Amz-Expires 901', () => {
    const at = Date.now();
    const token = ourToken({
      ...endpoint,
      user: 'app',
      ...DEMO_CREDENTIALS,
      signedAt: at,
      expiresIn: 901,
    });
    expectReject(verifier(at)(token, 'app'), 'lifetime-too-long');
    const ok = ourToken({
      ...endpoint,
      user: 'app',
      ...DEMO_CREDENTIALS,
      signedAt: at,
      expiresIn: 60,
    });
    expect(verifier(at)(ok, 'app').ok).toBe(true);
  });

  it('unknown-access-key', async () => {
    const token = await sdk({
      credentials: { accessKeyId: 'AKIANOTREGISTERED001', secretAccessKey: 'x' },
    });
    expectReject(verifier(signedAtOf(token))(token, 'app'), 'unknown-access-key');
  });

  it('credentials-expired', async () => {
    const expiring = { ...TEMP, expiration: new Date(Date.now() + 60_000) };
    const token = await sdk({ credentials: expiring });
    const v = createVerifier({
      region,
      endpoint,
      credentials: [expiring],
      now: () => Date.now() + 120_000,
    });
    const r = v(token, 'app');
    expectReject(r, 'credentials-expired');
    noSecrets(r, token);
  });

  it('bad-session-token: wrong, missing, and unexpected', async () => {
    const wrong = await sdk({ credentials: { ...TEMP, sessionToken: `${TEMP.sessionToken}x` } });
    const r = verifier(signedAtOf(wrong))(wrong, 'app');
    expectReject(r, 'bad-session-token');
    noSecrets(r, wrong);
    const { sessionToken: _, ...permanent } = TEMP;
    const missing = await sdk({ credentials: permanent });
    expectReject(verifier(signedAtOf(missing))(missing, 'app'), 'bad-session-token');
    const unexpected = await sdk({ credentials: { ...DEMO_CREDENTIALS, sessionToken: 'abc' } });
    expectReject(verifier(signedAtOf(unexpected))(unexpected, 'app'), 'bad-session-token');
  });

  it('never throws on hostile input', () => {
    const v = verifier(Date.now());
    for (const t of [
      '/?',
      ':/?',
      '%',
      `h:1/?${'&'.repeat(10_000)}`,
      'h:1/?X-Amz-Credential=%2F%2F%2F%2F',
    ]) {
      expect(v(t, 'app').ok).toBe(false);
    }
  });
});
