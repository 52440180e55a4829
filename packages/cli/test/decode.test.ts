import { presignAuthToken } from '@rds-iam/emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, json, rdsIam, removeScratch } from './helpers.js';

beforeAll(assertBuilt);
afterAll(removeScratch);

const host = 'orders.c9akciq32xyz.eu-west-1.rds.amazonaws.com';
const accessKeyId = 'AKIAIOSFODNN7EXAMPLE';

function token(signedAt: number, extra: { sessionToken?: string } = {}): string {
  return presignAuthToken({
    host,
    port: 5432,
    user: 'app',
    region: 'eu-west-1',
    accessKeyId,
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    signedAt,
    ...extra,
  });
}

describe.concurrent('decode', () => {
  it('shows region, endpoint, user, masked key id, issued, expires and time left', async () => {
    const fresh = token(Date.now() - 60_000);
    const r = await rdsIam(['decode', fresh]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^region\s+eu-west-1$/m);
    expect(r.stdout).toMatch(new RegExp(`^endpoint\\s+${host.replaceAll('.', '\\.')}:5432$`, 'm'));
    expect(r.stdout).toMatch(/^user\s+app$/m);
    expect(r.stdout).toMatch(/^access key\s+AKIA…MPLE \(long-term key\)$/m);
    expect(r.stdout).toMatch(/^issued\s+\d{4}-\d\d-\d\dT.*Z \(1m 0\ds ago\)$/m);
    expect(r.stdout).toMatch(/^expires\s+\d{4}-.*Z \(lifetime 900 s\)$/m);
    expect(r.stdout).toMatch(/^time left\s+1[34]m \d\ds$/m);
    // Nothing secret, and not the full key id.
    expect(r.stdout).not.toContain(accessKeyId);
    expect(r.stdout).not.toMatch(/Signature|[0-9a-f]{64}/);
  });

  it('warns on an expired token and exits 1', async () => {
    const r = await rdsIam(['decode', token(Date.now() - 20 * 60_000)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^time left\s+expired$/m);
    expect(r.stderr).toMatch(/^warning: the token expired 5m 0\ds ago: mint a new one$/m);
  });

  it('warns when the token is about to expire, exit 0', async () => {
    const r = await rdsIam(['decode', token(Date.now() - 14 * 60_000)]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: the token expires in \d\ds: use it now/m);
  });

  it('warns about a token dated in the future', async () => {
    const r = await rdsIam(['decode', token(Date.now() + 10 * 60_000)]);
    expect(r.stderr).toMatch(
      /^warning: the token is dated \d+m \d\ds in the future: RDS rejects it until then/m,
    );
  });

  it("reads stdin with '-', and --json masks the key and flags temporary credentials", async () => {
    const t = token(Date.now(), { sessionToken: 'FwoGZXIvYXdzEXAMPLESESSION' });
    const r = await rdsIam(['decode', '-', '--json'], { input: `${t}\n` });
    expect(r.code).toBe(0);
    const out = json(r.stdout);
    expect(out).toMatchObject({
      region: 'eu-west-1',
      host,
      port: 5432,
      user: 'app',
      service: 'rds-db',
      accessKeyId: 'AKIA…MPLE',
      temporaryCredentials: true,
      lifetimeSeconds: 900,
      expired: false,
      warnings: [],
    });
    expect(r.stdout).not.toContain('FwoGZXIvYXdzEXAMPLESESSION');
  });

  it('accepts the URL-encoded form found in a connection URL', async () => {
    const r = await rdsIam(['decode', encodeURIComponent(token(Date.now())), '--json']);
    expect(json(r.stdout)).toMatchObject({ user: 'app', region: 'eu-west-1' });
  });

  it('refuses something that is not a token without echoing it (exit 2)', async () => {
    const secretish = `${host}:5432/?Action=connect&X-Amz-Signature=${'a'.repeat(64)}`;
    const r = await rdsIam(['decode', secretish]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^rds-iam decode: the string is not an RDS IAM auth token: /);
    expect(r.stderr).not.toContain('a'.repeat(64));
  });
});
