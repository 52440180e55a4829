import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  check,
  cleanEnv,
  closedPort,
  DEMO_ENV,
  type QueryApiStandIn,
  rdsIam,
  removeScratch,
  scratchDir,
  startQueryApiStandIn,
} from './helpers.js';

const ACCOUNT = '210987654321';
const NO_SIMULATOR_KEY = 'AKIANOSIMULATOR00001';

const callerXml = (
  arn: string,
): string => `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>${arn}</Arn>
    <UserId>AROAEXAMPLE0000000001:session</UserId>
    <Account>${ACCOUNT}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>0b5e6c1e-0000-4000-8000-000000000001</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`;

const simulationXml = (
  resource: string,
  decision: string,
): string => `<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <SimulatePrincipalPolicyResult>
    <IsTruncated>false</IsTruncated>
    <EvaluationResults>
      <member>
        <EvalActionName>rds-db:connect</EvalActionName>
        <EvalResourceName>${resource}</EvalResourceName>
        <EvalDecision>${decision}</EvalDecision>
        <MatchedStatements>${
          decision === 'implicitDeny'
            ? ''
            : '<member><SourcePolicyId>rds-connect</SourcePolicyId><SourcePolicyType>IAM Policy</SourcePolicyType></member>'
        }</MatchedStatements>
        <MissingContextValues/>${
          resource.includes(':dbuser:db-SCP/')
            ? '<OrganizationsDecisionDetail><AllowedByOrganizations>false</AllowedByOrganizations></OrganizationsDecisionDetail>'
            : ''
        }
      </member>
    </EvaluationResults>
  </SimulatePrincipalPolicyResult>
  <ResponseMetadata><RequestId>0b5e6c1e-0000-4000-8000-000000000002</RequestId></ResponseMetadata>
</SimulatePrincipalPolicyResponse>`;

const accessDeniedXml = `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::${ACCOUNT}:assumed-role/limited/s is not authorized to perform: iam:SimulatePrincipalPolicy</Message></Error>
  <RequestId>0b5e6c1e-0000-4000-8000-000000000003</RequestId>
</ErrorResponse>`;

beforeAll(assertBuilt);

/** A policy file with one statement allowing rds-db:connect, with `statement`'s elements. */
function allowFile(name: string, statement: Record<string, unknown>): string {
  const file = join(scratchDir(), name);
  const allow = { Effect: 'Allow', Action: 'rds-db:connect', ...statement };
  writeFileSync(file, JSON.stringify({ Version: '2012-10-17', Statement: [allow] }));
  return file;
}
afterAll(removeScratch);

describe('rds-iam doctor: authorization against a loopback STS + IAM stand-in', () => {
  let api: QueryApiStandIn;
  let port: number;
  beforeAll(async () => {
    port = await closedPort();
    api = await startQueryApiStandIn((params, key) => {
      if (params.get('Action') === 'GetCallerIdentity') {
        return {
          xml: callerXml(
            key === NO_SIMULATOR_KEY
              ? `arn:aws:sts::${ACCOUNT}:assumed-role/limited/s`
              : `arn:aws:sts::${ACCOUNT}:assumed-role/app-role/i-0123456789abcdef0`,
          ),
        };
      }
      if (params.get('Action') === 'SimulatePrincipalPolicy') {
        if (key === NO_SIMULATOR_KEY) return { status: 403, xml: accessDeniedXml };
        const resource = params.get('ResourceArns.member.1') ?? '';
        const decision = resource.includes(':dbuser:db-ALLOWED/')
          ? 'allowed'
          : resource.includes(':dbuser:db-DENIED/') || resource.includes(':dbuser:db-SCP/')
            ? 'explicitDeny'
            : 'implicitDeny';
        return { xml: simulationXml(resource, decision) };
      }
      return {
        status: 400,
        xml: '<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>',
      };
    });
  });
  afterAll(() => api.close());

  const doctor = (resourceId: string, env: Record<string, string> = {}, extra: string[] = []) =>
    rdsIam(
      [
        'doctor',
        '--json',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--engine',
        'postgres',
        '--user',
        'app',
        '--region',
        'eu-west-1',
        '--resource-id',
        resourceId,
        ...extra,
      ],
      {
        env: cleanEnv({
          ...DEMO_ENV,
          AWS_ENDPOINT_URL_STS: api.endpoint,
          AWS_ENDPOINT_URL_IAM: api.endpoint,
          ...env,
        }),
      },
    );

  it('asks GetCallerIdentity, then simulates the role (not the session) for rds-db:connect on the dbuser ARN', async () => {
    const r = await doctor('db-ALLOWED');
    const c = check(r.stdout, 'authorization');
    expect(c.status).toBe('pass');
    expect(c.detail).toBe(
      `allow: IAM's policy simulator says arn:aws:iam::${ACCOUNT}:role/app-role may rds-db:connect on arn:aws:rds-db:eu-west-1:${ACCOUNT}:dbuser:db-ALLOWED/app (matched: rds-connect)`,
    );
    const sim = api.requests.find(
      (p) =>
        p.get('Action') === 'SimulatePrincipalPolicy' &&
        p.get('ResourceArns.member.1')?.includes('db-ALLOWED'),
    );
    expect(sim?.get('PolicySourceArn')).toBe(`arn:aws:iam::${ACCOUNT}:role/app-role`);
    expect(sim?.get('ActionNames.member.1')).toBe('rds-db:connect');
    expect(sim?.get('Version')).toBe('2010-05-08');
  });

  it('an implicit deny fails the check and names the resource id to allow', async () => {
    const r = await doctor('db-OTHER', {}, ['--account', '123456789012']);
    const c = check(r.stdout, 'authorization');
    expect(c.status).toBe('fail');
    expect(c.detail).toMatch(
      /^implicit-deny: .* may not rds-db:connect on arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-OTHER\/app$/,
    );
    expect(c.fix).toContain('names this resource id (db-OTHER), not the instance name');
    expect(r.code).toBe(1);
  });

  it('an explicit deny says a Deny covers it', async () => {
    const c = check((await doctor('db-DENIED')).stdout, 'authorization');
    expect(c.status).toBe('fail');
    expect(c.detail).toMatch(/^explicit-deny: /);
    expect(c.fix).toContain('a Deny statement');
  });

  it('names a service control policy when the organization is what denies', async () => {
    const c = check((await doctor('db-SCP')).stdout, 'authorization');
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('; denied by a service control policy of the organization');
  });

  it('says clearly when the caller may not call the simulator', async () => {
    const c = check(
      (await doctor('db-ALLOWED', { AWS_ACCESS_KEY_ID: NO_SIMULATOR_KEY })).stdout,
      'authorization',
    );
    expect(c.status).toBe('warn');
    expect(c.detail).toContain(
      `not checked: arn:aws:sts::${ACCOUNT}:assumed-role/limited/s may not call iam:SimulatePrincipalPolicy (AccessDenied)`,
    );
    expect(c.fix).toContain('--policy-file');
  });

  it('with --policy-file: evaluated locally, no AWS call, the nearest miss names the resource id', async () => {
    const file = allowFile('policy.json', {
      Resource: `arn:aws:rds-db:eu-west-1:${ACCOUNT}:dbuser:db-WRONG/app`,
    });
    const before = api.requests.length;
    const r = await doctor('db-RIGHT', {}, ['--account', ACCOUNT, '--policy-file', file]);
    const c = check(r.stdout, 'authorization');
    expect(api.requests.length).toBe(before);
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('the resource id differs');
    expect(c.fix).toMatch(
      /^the policy's resource id differs from the login's: allow arn:aws:rds-db:eu-west-1:210987654321:dbuser:db-RIGHT\/app/,
    );
    expect(c.causes?.[0]).toContain('never the instance name');
  });

  it('with --policy-file and a conditional policy: --source-ip decides, without it the check warns', async () => {
    const file = allowFile('office.json', {
      Resource: '*',
      Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
    });
    const args = ['--account', ACCOUNT, '--policy-file', file];
    const unknown = check((await doctor('db-RIGHT', {}, args)).stdout, 'authorization');
    expect(unknown.status).toBe('warn');
    expect(unknown.detail).toMatch(/^undetermined: .* depending on aws:SourceIp/);
    expect(unknown.fix).toBe('give aws:SourceIp with --context KEY=VALUE to decide');
    const inside = check(
      (await doctor('db-RIGHT', {}, [...args, '--source-ip', '10.2.3.4'])).stdout,
      'authorization',
    );
    expect(inside.status).toBe('pass');
    const outside = check(
      (await doctor('db-RIGHT', {}, [...args, '--source-ip', '192.0.2.1'])).stdout,
      'authorization',
    );
    expect(outside.status).toBe('fail');
    expect(outside.detail).toContain('only when its condition holds, and it does not: IpAddress');
  });

  it('passes the context to the simulator with IAM types', async () => {
    await doctor('db-ALLOWED', {}, ['--source-ip', '10.2.3.4', '--principal-tag', 'team=db']);
    const sim = api.requests.findLast((p) => p.get('Action') === 'SimulatePrincipalPolicy');
    const entries = new Map<string, [string | null, string | null]>();
    for (let i = 1; sim?.get(`ContextEntries.member.${i}.ContextKeyName`); i++) {
      entries.set(sim.get(`ContextEntries.member.${i}.ContextKeyName`) ?? '', [
        sim.get(`ContextEntries.member.${i}.ContextKeyValues.member.1`),
        sim.get(`ContextEntries.member.${i}.ContextKeyType`),
      ]);
    }
    expect(entries.get('aws:SourceIp')).toEqual(['10.2.3.4', 'ip']);
    expect(entries.get('aws:PrincipalTag/team')).toEqual(['db', 'string']);
    expect(entries.get('aws:RequestedRegion')).toEqual(['eu-west-1', 'string']);
  });

  it('usage errors: --policy-file without --account, an instance name as --resource-id', async () => {
    const noAccount = await doctor('db-RIGHT', {}, ['--policy-file', 'x.json']);
    expect(noAccount.code).toBe(2);
    expect(noAccount.stderr).toContain('--policy-file needs --resource-id and --account');
    const name = await doctor('orders-db');
    expect(name.code).toBe(2);
    expect(name.stderr).toContain('--resource-id must look like db-XXXX');
    const before = api.requests.length;
    const badContext = await doctor('db-ALLOWED', {}, ['--time', 'soon']);
    expect(badContext.code).toBe(2);
    expect(badContext.stderr).toContain('aws:CurrentTime "soon" is not a date');
    expect(api.requests.length).toBe(before);
  });
});
