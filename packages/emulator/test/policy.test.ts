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
  });
});
