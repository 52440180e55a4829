import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_RESOURCE_ID,
  DEMO_CREDENTIALS,
  type Emulator,
  type EmulatorLogin,
  startEmulator,
} from '../src/index.js';
import { createRole, dropRole, PG_UPSTREAM, sdkToken } from './helpers.js';

const UPSTREAM = `postgres://${PG_UPSTREAM.host}:${PG_UPSTREAM.port}`;

function allow(resource: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'rds-db:connect', Resource: resource }],
  });
}

describe('startEmulator with IAM policies', () => {
  let role: string;
  let emu: Emulator;
  const logins: EmulatorLogin[] = [];
  const OTHER_KEY = { accessKeyId: 'AKIAEMULATOROTHER001', secretAccessKey: 'other/secret' };

  beforeAll(async () => {
    role = await createRole('emupolicy');
    emu = await startEmulator({
      engine: 'postgres',
      upstream: UPSTREAM,
      accountId: '210987654321',
      resourceId: 'db-ORDERS0123',
      region: 'eu-west-1',
      credentials: [
        {
          ...DEMO_CREDENTIALS,
          policies: [allow(`arn:aws:rds-db:eu-west-1:210987654321:dbuser:db-ORDERS0123/${role}`)],
        },
        OTHER_KEY,
      ],
      onLogin: (l) => logins.push(l),
    });
  });
  afterAll(async () => {
    await emu?.stop();
    await dropRole(role);
  });

  async function login(credentials = DEMO_CREDENTIALS): Promise<unknown> {
    const password = await sdkToken({
      ...emu.endpoint,
      user: role,
      region: emu.region,
      credentials,
    });
    const c = new pg.Client({
      host: emu.host,
      port: emu.port,
      user: role,
      database: 'test',
      password,
      ssl: { ca: emu.caPem },
    });
    try {
      await c.connect();
      return (await c.query('select current_user as u')).rows[0];
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  it('documents its ARN parts and builds the dbuser ARN', () => {
    expect(emu.accountId).toBe('210987654321');
    expect(emu.resourceId).toBe('db-ORDERS0123');
    expect(emu.dbUserArn('app')).toBe(
      'arn:aws:rds-db:eu-west-1:210987654321:dbuser:db-ORDERS0123/app',
    );
    expect(DEFAULT_ACCOUNT_ID).toBe('123456789012');
    expect(DEFAULT_RESOURCE_ID).toMatch(/^db-[A-Z0-9]+$/);
  });

  it('lets in a login its policy allows', async () => {
    emu.resetCounters();
    await expect(login()).resolves.toEqual({ u: role });
    expect(emu.counters().accepted).toBe(1);
  });

  it('refuses a login its policy does not allow, exactly as RDS words it, and counts not-authorized', async () => {
    emu.resetCounters();
    logins.length = 0;
    emu.addCredentials({
      ...DEMO_CREDENTIALS,
      policies: [allow(`arn:aws:rds-db:eu-west-1:210987654321:dbuser:rds-orders/${role}`)],
    });
    const err = (await login().catch((e: unknown) => e)) as { code?: string; message?: string };
    expect(err.code).toBe('28P01');
    expect(err.message).toBe(`PAM authentication failed for user "${role}"`);
    expect(emu.counters().rejectedByReason).toEqual({ 'not-authorized': 1 });
    const last = logins.at(-1);
    expect(last).toMatchObject({ accepted: false, user: role, reason: 'not-authorized' });
    expect(last && !last.accepted ? last.detail : '').toContain('the resource id differs');
  });

  it('an explicit Deny wins over the Allow', async () => {
    emu.resetCounters();
    emu.addCredentials({
      ...DEMO_CREDENTIALS,
      policies: [
        allow('*'),
        JSON.stringify({
          Statement: { Effect: 'Deny', Action: 'rds-db:*', Resource: emu.dbUserArn(role) },
        }),
      ],
    });
    await expect(login()).rejects.toMatchObject({ code: '28P01' });
    expect(emu.counters().rejectedByReason).toEqual({ 'not-authorized': 1 });
    expect(logins.at(-1)).toMatchObject({ detail: expect.stringMatching(/^explicit-deny/) });
  });

  it('a key without policies logs in as before; the login line never holds the token', async () => {
    emu.resetCounters();
    await expect(login(OTHER_KEY)).resolves.toEqual({ u: role });
    expect(logins.at(-1)).toEqual({
      accepted: true,
      user: role,
      accessKeyId: OTHER_KEY.accessKeyId,
    });
    expect(JSON.stringify(logins)).not.toMatch(/X-Amz-Signature|Amz-Credential/);
  });

  const statement = (effect: 'Allow' | 'Deny', extra: Record<string, unknown> = {}) => ({
    Effect: effect,
    Action: 'rds-db:connect',
    Resource: '*',
    ...extra,
  });
  const policy = (...statements: Record<string, unknown>[]) =>
    JSON.stringify({ Version: '2012-10-17', Statement: statements });
  const lastDetail = () => {
    const last = logins.at(-1);
    return last && !last.accepted ? last.detail : '';
  };

  it('fills aws:SourceIp from the client: a Deny outside a range refuses a loopback client', async () => {
    const officeOnly = (range: string) =>
      policy(
        statement('Allow'),
        statement('Deny', { Condition: { NotIpAddress: { 'aws:SourceIp': range } } }),
      );
    emu.addCredentials({ ...DEMO_CREDENTIALS, policies: [officeOnly('10.0.0.0/8')] });
    await expect(login()).rejects.toMatchObject({ code: '28P01' });
    expect(lastDetail()).toMatch(/^explicit-deny .*Statement\[1\] denies/);
    emu.addCredentials({ ...DEMO_CREDENTIALS, policies: [officeOnly('127.0.0.0/8')] });
    await expect(login()).resolves.toEqual({ u: role });
  });

  it('fills aws:SecureTransport, aws:RequestedRegion and aws:CurrentTime from its (offset) clock', async () => {
    emu.addCredentials({
      ...DEMO_CREDENTIALS,
      policies: [
        policy(
          statement('Allow', {
            Condition: {
              Bool: { 'aws:SecureTransport': 'true' },
              StringEquals: { 'aws:RequestedRegion': 'eu-west-1' },
            },
          }),
          statement('Deny', {
            Condition: {
              DateGreaterThan: {
                'aws:CurrentTime': new Date(Date.now() + 10 * 60_000).toISOString(),
              },
            },
          }),
        ),
      ],
    });
    await expect(login()).resolves.toEqual({ u: role });
    // 11 minutes on: the token (valid 15) still is, the policy's cut-off 10 minutes ahead has passed.
    emu.setClockOffset(11 * 60_000);
    try {
      await expect(login()).rejects.toMatchObject({ code: '28P01' });
      expect(lastDetail()).toMatch(/^explicit-deny .*Statement\[1\] denies/);
    } finally {
      emu.setClockOffset(0);
    }
  });

  it('fills the principal and its tags from the key: aws:username and aws:PrincipalTag/dbuser as variables', async () => {
    const byTag = policy(
      statement('Allow', {
        Resource: `arn:aws:rds-db:eu-west-1:210987654321:dbuser:db-ORDERS0123/\${aws:PrincipalTag/dbuser}`,
      }),
    );
    emu.addCredentials({ ...DEMO_CREDENTIALS, policies: [byTag] });
    await expect(login()).rejects.toMatchObject({ code: '28P01' });
    expect(lastDetail()).toContain(
      'the login carried no aws:PrincipalTag/dbuser (give the key a principal: its ARN and tags fill aws:username, aws:PrincipalTag/...)',
    );
    const principal = { arn: 'arn:aws:sts::210987654321:assumed-role/app/i-0abc' };
    emu.addCredentials({
      ...DEMO_CREDENTIALS,
      policies: [byTag],
      principal: { ...principal, tags: { dbuser: role } },
    });
    await expect(login()).resolves.toEqual({ u: role });
    emu.addCredentials({
      ...DEMO_CREDENTIALS,
      policies: [byTag],
      principal: { ...principal, tags: { dbuser: 'other' } },
    });
    await expect(login()).rejects.toMatchObject({ code: '28P01' });
    expect(lastDetail()).toContain(
      '(here arn:aws:rds-db:eu-west-1:210987654321:dbuser:db-ORDERS0123/other)',
    );
    emu.addCredentials({
      ...DEMO_CREDENTIALS,
      policies: [
        policy(statement('Allow', { Resource: `arn:aws:rds-db:*:*:dbuser:*/\${aws:username}` })),
      ],
      principal: { arn: `arn:aws:iam::210987654321:user/${role}` },
    });
    await expect(login()).resolves.toEqual({ u: role });
  });

  it('refuses malformed policies and bad ARN parts before listening', async () => {
    await expect(
      startEmulator({
        engine: 'postgres',
        upstream: UPSTREAM,
        credentials: [{ ...DEMO_CREDENTIALS, policies: ['{"Statement": {"Effect": "Permit"}}'] }],
      }),
    ).rejects.toMatchObject({
      code: 'ERR_POLICY_INVALID',
      message: expect.stringContaining('policies[0] of AKIAEMULATORDEMO0001'),
    });
    await expect(
      startEmulator({ engine: 'postgres', upstream: UPSTREAM, accountId: '42' }),
    ).rejects.toThrow(/accountId must be a 12-digit/);
    expect(() => emu.addCredentials({ ...OTHER_KEY, policies: ['not json'] })).toThrow(/not JSON/);
    expect(() => emu.addCredentials({ ...OTHER_KEY, principal: { arn: 'app' } })).toThrow(
      /principal of AKIAEMULATOROTHER001: "app" is not the ARN/,
    );
  });
});
