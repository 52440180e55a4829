import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, json, rdsIam, removeScratch, scratchDir } from './helpers.js';

beforeAll(assertBuilt);
afterAll(removeScratch);

const TARGET = ['--region', 'eu-west-1', '--account', '123456789012', '--resource-id', 'db-XYZ'];
const ARN = 'arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-XYZ/app';

function policyFile(document: unknown): string {
  const path = join(scratchDir(), 'policy.json');
  writeFileSync(path, typeof document === 'string' ? document : JSON.stringify(document));
  return path;
}

interface Decision {
  decision: string;
  resource: string;
  user: string;
  decidedBy?: { policy: number; statement: number; sid?: string };
  nearestMiss?: { differs: string[]; explanation: string };
  unevaluated: { needs: string[] }[];
  results?: { user: string; decision: string }[];
}

describe.concurrent('rds-iam policy check', () => {
  it('passes what rds-iam policy prints for the same options, for every user', async () => {
    const users = ['--user', 'app', '--user', 'reporting'];
    const printed = await rdsIam(['policy', ...TARGET, ...users]);
    expect(printed.code).toBe(0);
    const r = await rdsIam(['policy', 'check', '--policy-file', '-', ...TARGET, ...users], {
      input: printed.stdout,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `allow: rds-db:connect on ${ARN}\n  decided by standard input Statement[0]`,
    );
    expect(r.stdout).toContain('dbuser:db-XYZ/reporting');
  });

  it('a wrong resource id: exit 1, implicit-deny and the nearest miss names the resource id', async () => {
    const printed = await rdsIam(['policy', '--json', ...TARGET, '--user', 'app']);
    const file = policyFile(printed.stdout);
    const wrong = [...TARGET.slice(0, 4), '--resource-id', 'db-ABC', '--user', 'app'];
    const text = await rdsIam(['policy', 'check', '--policy-file', file, ...wrong]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(
      `nearest miss: ${file} Statement[0] allows ${ARN}, the login needs arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABC/app: the resource id differs`,
    );
    const r = await rdsIam(['policy', 'check', '--json', '--policy-file', file, ...wrong]);
    expect(r.code).toBe(1);
    const out = json<Decision>(r.stdout);
    expect(out.decision).toBe('implicit-deny');
    expect(out.nearestMiss?.differs).toEqual(['resource-id']);
  });

  it('an explicit Deny: exit 1, explicit-deny naming the statement and its Sid', async () => {
    const allow = policyFile({
      Version: '2012-10-17',
      Statement: { Effect: 'Allow', Action: 'rds-db:*', Resource: '*' },
    });
    const deny = join(scratchDir(), 'deny.json');
    writeFileSync(
      deny,
      JSON.stringify({
        Statement: [{ Sid: 'NoApp', Effect: 'Deny', Action: 'rds-db:connect', Resource: ARN }],
      }),
    );
    const r = await rdsIam([
      'policy',
      'check',
      '--json',
      '--policy-file',
      allow,
      '--policy-file',
      deny,
      ...TARGET,
      '--user',
      'app',
    ]);
    expect(r.code).toBe(1);
    const out = json<Decision>(r.stdout);
    expect(out.decision).toBe('explicit-deny');
    expect(out.decidedBy).toMatchObject({ policy: 1, statement: 0, sid: 'NoApp' });
  });

  it('one user denied among several decides the exit code, and --json lists each', async () => {
    const file = policyFile({
      Statement: { Effect: 'Allow', Action: 'rds-db:connect', Resource: ARN },
    });
    const r = await rdsIam([
      'policy',
      'check',
      '--json',
      '--policy-file',
      file,
      ...TARGET,
      '--user',
      'app',
      '--user',
      'admin',
    ]);
    expect(r.code).toBe(1);
    const out = json<Decision>(r.stdout);
    expect(out.user).toBe('admin');
    expect(out.nearestMiss?.differs).toEqual(['user']);
    expect(out.results?.map((x) => [x.user, x.decision])).toEqual([
      ['app', 'allow'],
      ['admin', 'implicit-deny'],
    ]);
  });

  it('a Condition is reported on stderr and does not allow', async () => {
    const file = policyFile({
      Statement: {
        Effect: 'Allow',
        Action: 'rds-db:connect',
        Resource: ARN,
        Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } },
      },
    });
    const r = await rdsIam(['policy', 'check', '--policy-file', file, ...TARGET, '--user', 'app']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^implicit-deny: /);
    expect(r.stderr).toContain('depends on aws:SourceIp, which cannot be evaluated locally');
  });

  it('bad input is exit 2: a malformed policy (with its code), a missing file, no --policy-file', async () => {
    const bad = policyFile({ Statement: { Effect: 'Permit', Action: '*', Resource: '*' } });
    const r = await rdsIam([
      'policy',
      'check',
      '--json',
      '--policy-file',
      bad,
      ...TARGET,
      '--user',
      'app',
    ]);
    expect(r.code).toBe(2);
    expect(json<{ error: { code: string } }>(r.stdout).error.code).toBe('ERR_POLICY_INVALID');
    expect(r.stderr).toContain(`${bad}: Statement[0] has "Effect" "Permit"`);
    const notJson = await rdsIam(
      ['policy', 'check', '--policy-file', '-', ...TARGET, '--user', 'app'],
      {
        input: 'Effect: Allow',
      },
    );
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('standard input is not JSON');
    const missing = await rdsIam([
      'policy',
      'check',
      '--policy-file',
      join(scratchDir(), 'nope.json'),
      ...TARGET,
      '--user',
      'app',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read --policy-file .*nope\.json/);
    const none = await rdsIam(['policy', 'check', ...TARGET, '--user', 'app']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--policy-file is required');
  });
});
