// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM writes its policy variables as ${key}, and these tests quote them.
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
  determined: boolean;
  missingContext: string[];
  ifAbsent?: string;
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

  const officeOnly = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'rds-db:connect', Resource: '*' },
      {
        Sid: 'OfficeOnly',
        Effect: 'Deny',
        Action: 'rds-db:connect',
        Resource: '*',
        Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
      },
    ],
  };

  it('a conditional Deny without its key: undetermined, never allow, on stderr in text and --json', async () => {
    const file = policyFile(officeOnly);
    const args = ['policy', 'check', '--policy-file', file, ...TARGET, '--user', 'app'];
    const text = await rdsIam(args);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(
      /^undetermined: rds-db:connect on .* depends on aws:SourceIp, which the request did not carry; at best explicit-deny\n/,
    );
    expect(text.stdout).toContain('if the request has no aws:SourceIp: explicit-deny');
    expect(text.stderr).toContain(
      'depends on aws:SourceIp, which the request did not carry: it is not an allow; give it with --context KEY=VALUE',
    );
    const r = await rdsIam([...args, '--json']);
    expect(r.code).toBe(1);
    expect(json<Decision>(r.stdout)).toMatchObject({
      decision: 'explicit-deny',
      determined: false,
      missingContext: ['aws:SourceIp'],
      ifAbsent: 'explicit-deny',
    });
    expect(r.stderr).toContain('depends on aws:SourceIp');
  });

  it('--source-ip decides it: inside the range allow, outside explicit-deny naming the Sid', async () => {
    const file = policyFile(officeOnly);
    const args = ['policy', 'check', '--policy-file', file, ...TARGET, '--user', 'app'];
    const inside = await rdsIam([...args, '--source-ip', '10.1.2.3']);
    expect(inside.code).toBe(0);
    expect(inside.stderr).toBe('');
    expect(inside.stdout).toMatch(/^allow: /);
    const outside = await rdsIam([...args, '--json', '--context', 'aws:SourceIp=192.0.2.1']);
    expect(outside.code).toBe(1);
    expect(json<Decision>(outside.stdout)).toMatchObject({
      decision: 'explicit-deny',
      determined: true,
      decidedBy: { statement: 1, sid: 'OfficeOnly' },
    });
  });

  it('an attribute-based policy: ${aws:PrincipalTag/dbuser} from --principal-tag, ${aws:username} from --principal-arn', async () => {
    const file = policyFile({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'rds-db:connect',
          Resource: [
            'arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-XYZ/${aws:PrincipalTag/dbuser}',
            'arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-XYZ/${aws:username}',
          ],
        },
      ],
    });
    const base = ['policy', 'check', '--policy-file', file, ...TARGET, '--user', 'app'];
    const role = 'arn:aws:sts::123456789012:assumed-role/app-role/i-0abc';
    const tagged = await rdsIam([
      ...base,
      '--principal-arn',
      role,
      '--principal-tag',
      'dbuser=app',
    ]);
    expect(tagged.code).toBe(0);
    expect(tagged.stdout).toMatch(/^allow: /);
    const other = await rdsIam([...base, '--principal-arn', role, '--principal-tag', 'dbuser=ops']);
    expect(other.code).toBe(1);
    expect(other.stdout).toContain(
      '(here arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-XYZ/ops), the login needs arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-XYZ/app: the user differs',
    );
    const user = await rdsIam([...base, '--principal-arn', 'arn:aws:iam::123456789012:user/app']);
    expect(user.code).toBe(0);
    const nobody = await rdsIam(base);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('depends on aws:PrincipalTag/dbuser, aws:username');
  });

  it('--time and the region: a DateGreaterThan Deny and a StringNotEquals aws:RequestedRegion Deny', async () => {
    const file = policyFile({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'rds-db:connect', Resource: '*' },
        {
          Effect: 'Deny',
          Action: 'rds-db:connect',
          Resource: '*',
          Condition: { DateGreaterThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } },
        },
        {
          Effect: 'Deny',
          Action: 'rds-db:connect',
          Resource: '*',
          Condition: { StringNotEquals: { 'aws:RequestedRegion': 'eu-west-1' } },
        },
      ],
    });
    const args = ['policy', 'check', '--json', '--policy-file', file, ...TARGET, '--user', 'app'];
    expect((await rdsIam([...args, '--time', '2029-12-31T00:00:00Z'])).code).toBe(0);
    const late = await rdsIam([...args, '--time', '1893456001']);
    expect(json<Decision>(late.stdout)).toMatchObject({
      decision: 'explicit-deny',
      decidedBy: { statement: 1 },
    });
    const elsewhere = await rdsIam([
      ...args,
      '--time',
      'now',
      '--context',
      'aws:RequestedRegion=us-east-1',
    ]);
    expect(json<Decision>(elsewhere.stdout)).toMatchObject({
      decision: 'explicit-deny',
      decidedBy: { statement: 2 },
    });
  });

  it('a malformed context value or a document IAM refuses is bad input, exit 2 with its code', async () => {
    const file = policyFile(officeOnly);
    const args = ['policy', 'check', '--json', '--policy-file', file, ...TARGET, '--user', 'app'];
    const ip = await rdsIam([...args, '--source-ip', 'office']);
    expect(ip.code).toBe(2);
    expect(json<{ error: { code: string } }>(ip.stdout).error.code).toBe('ERR_POLICY_CONTEXT');
    const noEquals = await rdsIam([...args, '--context', 'aws:SourceIp']);
    expect(noEquals.code).toBe(2);
    const typo = policyFile({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'rds-db:connect', Resource: '*', Condtion: {} }],
    });
    const r = await rdsIam(['policy', 'check', '--policy-file', typo, ...TARGET, '--user', 'app']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown element "Condtion" (did you mean "Condition"?)');
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
    expect(r.stderr).toContain(`${bad} Statement[0]: has "Effect" "Permit"`);
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
    // Files are compiled once, after reading; a malformed one read first is still the error named.
    const badFirst = await rdsIam([
      'policy',
      'check',
      '--json',
      '--policy-file',
      bad,
      '--policy-file',
      join(scratchDir(), 'nope.json'),
      ...TARGET,
      '--user',
      'app',
    ]);
    expect(badFirst.code).toBe(2);
    expect(json<{ error: { code: string } }>(badFirst.stdout).error.code).toBe(
      'ERR_POLICY_INVALID',
    );
    const none = await rdsIam(['policy', 'check', ...TARGET, '--user', 'app']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--policy-file is required');
  });
});
