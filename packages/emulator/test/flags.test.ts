import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, main } from '../src/command.js';
import {
  DEMO_CREDENTIALS,
  EMULATOR_FLAGS,
  type EmulatorCredentials,
  resolveEmulatorFlags,
} from '../src/index.js';
import { createRole, dropRole, PG_UPSTREAM, sdkToken } from './helpers.js';

const UPSTREAM = `postgres://${PG_UPSTREAM.host}:${PG_UPSTREAM.port}`;
const dir = mkdtempSync(join(tmpdir(), 'rds-iam-emulator-flags-'));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
    },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

async function login(run: CliRun, user: string, credentials: EmulatorCredentials): Promise<string> {
  const { emulator } = run;
  const password = await sdkToken({
    ...emulator.endpoint,
    user,
    region: emulator.region,
    credentials,
  });
  const c = new pg.Client({
    host: emulator.host,
    port: emulator.port,
    user,
    database: 'test',
    password,
    ssl: { ca: emulator.caPem },
  });
  try {
    await c.connect();
    return 'accepted';
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe('resolveEmulatorFlags: one definition for both commands', () => {
  it('has every flag the issue lists', () => {
    for (const name of [
      'account',
      'resource-id',
      'policy-file',
      'credentials',
      'clock-offset',
      'quiet',
    ]) {
      expect(EMULATOR_FLAGS).toHaveProperty(name);
    }
  });

  it('turns flags into options: account, resource id, credentials with session token and expiry, clock offset', () => {
    const flags = resolveEmulatorFlags({
      engine: 'mariadb',
      account: '2109-8765-4321',
      'resource-id': 'db-ORDERS',
      credentials: [
        'ASIAEXAMPLE000000001,sec/ret,SESSION+TOKEN,2030-01-01T00:00:00Z',
        'AKIAEXAMPLE000000002,s2',
      ],
      'clock-offset': '-16m',
    });
    expect(flags.options).toMatchObject({
      engine: 'mysql',
      upstream: 'mysql://127.0.0.1:3306',
      accountId: '210987654321',
      resourceId: 'db-ORDERS',
      clockOffsetMs: -16 * 60_000,
      requireTls: true,
    });
    expect(flags.options.credentials).toEqual([
      DEMO_CREDENTIALS,
      {
        accessKeyId: 'ASIAEXAMPLE000000001',
        secretAccessKey: 'sec/ret',
        sessionToken: 'SESSION+TOKEN',
        expiration: new Date('2030-01-01T00:00:00Z'),
      },
      { accessKeyId: 'AKIAEXAMPLE000000002', secretAccessKey: 's2' },
    ]);
    expect(resolveEmulatorFlags({ 'clock-offset': '90s' }).options.clockOffsetMs).toBe(90_000);
    // Strict as RDS by default; the opt-out says what it relaxes; the old flag is accepted and ignored.
    expect(resolveEmulatorFlags({}).options).not.toHaveProperty('allowNonIamUsers');
    expect(resolveEmulatorFlags({ 'allow-non-iam-users': true }).options.allowNonIamUsers).toBe(
      true,
    );
    expect(resolveEmulatorFlags({ 'require-iam-grant': true }).options).not.toHaveProperty(
      'allowNonIamUsers',
    );
    expect(resolveEmulatorFlags({ 'clock-offset': '1500' }).options.clockOffsetMs).toBe(1500);
  });

  it('a principal and tags for the demo key and for --credentials keys, with their own policy files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'emu-flags-'));
    const policy = join(dir, 'p.json');
    writeFileSync(
      policy,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: { Effect: 'Allow', Action: 'rds-db:connect', Resource: '*' },
      }),
    );
    try {
      const flags = resolveEmulatorFlags({
        'principal-arn': 'arn:aws:iam::123456789012:user/alice',
        'principal-tag': ['team=db'],
        credentials: [
          `AKIAEXAMPLE000000002,s2,principal=arn:aws:sts::123456789012:assumed-role/app/s,tag:dbuser=app,tag:env=prod,policy=${policy}`,
        ],
      });
      expect(flags.printedCredentials.principal).toEqual({
        arn: 'arn:aws:iam::123456789012:user/alice',
        tags: { team: 'db' },
      });
      expect(flags.options.credentials?.[1]).toMatchObject({
        accessKeyId: 'AKIAEXAMPLE000000002',
        secretAccessKey: 's2',
        principal: {
          arn: 'arn:aws:sts::123456789012:assumed-role/app/s',
          tags: { dbuser: 'app', env: 'prod' },
        },
        policies: [expect.stringContaining('rds-db:connect')],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [{ 'principal-tag': ['team=db'] }, /needs the principal: --principal-arn/],
    [{ 'principal-arn': 'alice' }, /is not the ARN of an IAM user/],
    [
      { 'principal-arn': 'arn:aws:iam::123456789012:user/a', 'principal-tag': ['team'] },
      /expected KEY=VALUE/,
    ],
    [{ credentials: ['AKIAEXAMPLE000000001,s,principal=a,principal=b'] }, /one principal= per key/],
    [{ engine: 'oracle' }, /--engine must be postgres or mysql \(got 'oracle'\)/],
    [{ account: '1234' }, /--account 1234: expected a 12-digit/],
    [{ 'resource-id': 'orders-db' }, /not the instance name/],
    [{ credentials: ['AKIAEXAMPLE000000001'] }, /expected ACCESS_KEY_ID,SECRET/],
    [{ credentials: ['AKIAEXAMPLE000000001,s,t,yesterday'] }, /not an ISO 8601 date/],
    [{ 'clock-offset': 'soon' }, /expected a duration/],
    [{ 'policy-file': [join(dir, 'missing.json')] }, /cannot read --policy-file/],
  ])('refuses %j', (values, message) => {
    expect(() => resolveEmulatorFlags(values)).toThrow(message);
  });

  it('refuses a malformed policy file with its code and the file name', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"Version": "2012-10-17"}');
    expect(() => resolveEmulatorFlags({ 'policy-file': [file] })).toThrow(
      expect.objectContaining({
        code: 'ERR_POLICY_NO_STATEMENT',
        message: expect.stringContaining(`--policy-file ${file}`),
      }),
    );
  });
});

describe('rds-iam-emulator with policies, extra credentials, a clock offset and login lines', () => {
  let role: string;
  beforeAll(async () => {
    role = await createRole('emuflags');
  });
  afterAll(async () => {
    await dropRole(role);
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints one line per login (user, verdict or reason, never the token); --policy-file applies to the printed key', async () => {
    const policy = join(dir, 'policy.json');
    writeFileSync(
      policy,
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'rds-db:connect',
            Resource: `arn:aws:rds-db:us-east-1:210987654321:dbuser:db-WRONG/${role}`,
          },
        ],
      }),
    );
    const extra = {
      accessKeyId: 'ASIAEMULATORFLAGS001',
      secretAccessKey: 'flags/secret',
      sessionToken: 'FwoGZXIvYXdzEXAMPLE',
      expiration: new Date(Date.now() + 3_600_000),
    };
    const o = capture();
    const run = await main(
      [
        '--upstream',
        UPSTREAM,
        '--account',
        '210987654321',
        '--resource-id',
        'db-RIGHT',
        '--policy-file',
        policy,
        '--credentials',
        `${extra.accessKeyId},${extra.secretAccessKey},${extra.sessionToken},${extra.expiration.toISOString()}`,
        '--ca-file',
        join(dir, 'ca.pem'),
      ],
      o.io,
    );
    expect(run).toBeDefined();
    if (!run) return;
    try {
      expect(o.out()).toContain(
        `dbuser ARN arn:aws:rds-db:us-east-1:210987654321:dbuser:db-RIGHT/USER`,
      );
      expect(o.out()).toContain('policies   1 for the demo key');
      expect(await login(run, role, DEMO_CREDENTIALS)).toBe('28P01');
      expect(await login(run, role, extra)).toBe('accepted');
      const lines = o.err().trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(
        new RegExp(
          `^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z login ${role}: refused, not-authorized \\(implicit-deny .*the resource id differs\\)$`,
        ),
      );
      expect(lines[1]).toMatch(new RegExp(`login ${role}: accepted \\(key ASIA`));
      expect(o.err()).not.toMatch(/X-Amz-Signature|FwoGZXIvYXdzEXAMPLE|flags\/secret/);
      expect(run.emulator.counters().rejectedByReason).toEqual({ 'not-authorized': 1 });
    } finally {
      await run.emulator.stop();
    }
  });

  it('--clock-offset moves the clock at start; --quiet prints no login line', async () => {
    const o = capture();
    const run = await main(
      [
        '--upstream',
        UPSTREAM,
        '--clock-offset',
        '16m',
        '--quiet',
        '--json',
        '--ca-file',
        join(dir, 'ca2.pem'),
      ],
      o.io,
    );
    expect(run).toBeDefined();
    if (!run) return;
    try {
      const ready = JSON.parse(o.out()) as Record<string, unknown>;
      expect(ready).toMatchObject({ accountId: '123456789012', policies: 0, tlsRequired: true });
      expect(await login(run, role, DEMO_CREDENTIALS)).toBe('28P01');
      expect(run.emulator.counters().rejectedByReason).toEqual({ expired: 1 });
      expect(o.err()).toBe('');
    } finally {
      await run.emulator.stop();
    }
  });
});
