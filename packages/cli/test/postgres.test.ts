import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Emulator, startEmulator } from '@rds-iam/emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminSql,
  assertBuilt,
  check,
  cleanEnv,
  closedPort,
  DEMO_ENV,
  json,
  pgIamUserSql,
  postgresOffersTls,
  rdsIam,
  readRecord,
  removeScratch,
  runProcess,
  scratchDir,
  upstreamFor,
  writeRecordingClient,
} from './helpers.js';

const upstream = await upstreamFor('postgres');
const USER = 'rds_iam_cli_pg';
/** An RDS-shaped name for the emulator, so the region comes from the hostname. */
const RDS_HOST = 'orders.c9akciq32xyz.us-east-1.rds.amazonaws.com';

afterAll(removeScratch);

describe.skipIf(!upstream)('PostgreSQL behind the emulator', () => {
  let plain: Emulator;
  let named: Emulator;
  let dir: string;
  let caFile: string;
  let namedCaFile: string;
  const env = cleanEnv({ ...DEMO_ENV, AWS_REGION: 'us-east-1' });
  const target = (): string[] => [
    '--host',
    plain.host,
    '--port',
    String(plain.port),
    '--user',
    USER,
  ];

  beforeAll(async () => {
    assertBuilt();
    if (!upstream) return;
    await adminSql('postgres', upstream, pgIamUserSql(USER));
    [plain, named] = await Promise.all([
      startEmulator({ engine: 'postgres', upstream: upstream.url }),
      startEmulator({
        engine: 'postgres',
        upstream: upstream.url,
        endpoint: { host: RDS_HOST, port: 5432 },
      }),
    ]);
    dir = scratchDir();
    caFile = join(dir, 'plain-ca.pem');
    namedCaFile = join(dir, 'named-ca.pem');
    writeFileSync(caFile, plain.caPem);
    writeFileSync(namedCaFile, named.caPem);
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), named?.stop()]);
  });

  it('rds-iam token --signing-host mints a token the emulator accepts (psql login)', async () => {
    // No AWS_REGION: the region comes from the RDS hostname the token is signed for.
    const tokenEnv = cleanEnv(DEMO_ENV);
    const before = named.counters().accepted;
    const minted = await rdsIam(
      [
        'token',
        '--host',
        '127.0.0.1',
        '--port',
        String(named.port),
        '--user',
        USER,
        '--signing-host',
        RDS_HOST,
        '--signing-port',
        '5432',
      ],
      { env: tokenEnv },
    );
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    expect(token).toMatch(
      new RegExp(`^${RDS_HOST.replaceAll('.', '\\.')}:5432/\\?Action=connect&DBUser=${USER}&`),
    );
    const psql = await runProcess(
      'psql',
      [
        `host=${RDS_HOST} hostaddr=127.0.0.1 port=${named.port} user=${USER} dbname=postgres sslmode=verify-full sslrootcert=${namedCaFile}`,
        '-tAc',
        'select current_user',
      ],
      { env: cleanEnv({ PGPASSWORD: token }) },
    );
    expect(psql.stderr).toBe('');
    expect(psql.stdout.trim()).toBe(USER);
    expect(named.counters().accepted).toBe(before + 1);
  });

  it('rds-iam url gives a URL psql logs in with', async () => {
    const url = await rdsIam(
      ['url', '--engine', 'postgres', ...target(), '--database', 'postgres', '--ca-file', caFile],
      { env },
    );
    expect(url.code).toBe(0);
    const psql = await runProcess('psql', [url.stdout.trim(), '-tAc', 'select 41 + 1'], {
      env: cleanEnv(),
    });
    expect(psql.stdout.trim()).toBe('42');
  });

  it('connect psql runs the query, with the token in PGPASSWORD and never in argv', async () => {
    const record = join(dir, 'psql-record.json');
    const wrapper = writeRecordingClient(dir, 'psql', record);
    const r = await rdsIam(
      [
        'connect',
        'psql',
        ...target(),
        '--database',
        'postgres',
        '--ca-file',
        caFile,
        '--client-path',
        wrapper,
        '--',
        '-tA',
        '-c',
        'select 1',
      ],
      { env },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('1');
    expect(r.code).toBe(0);
    const seen = readRecord(record);
    expect(seen.argv.join(' ')).not.toMatch(/Action=connect|X-Amz-|DBUser/);
    expect(seen.argv[0]).toBe(
      `host=127.0.0.1 port=${plain.port} user=${USER} dbname=postgres sslmode=verify-full sslrootcert=${caFile}`,
    );
    expect(seen.argv.slice(1)).toEqual(['-tA', '-c', 'select 1']);
    expect(seen.pgpassword).toMatch(
      /^127\.0\.0\.1:\d+\/\?Action=connect&DBUser=rds_iam_cli_pg&.*X-Amz-Signature=/,
    );
  });

  it("connect psql passes the client's exit code through", async () => {
    const r = await rdsIam(
      [
        'connect',
        'psql',
        ...target(),
        '--database',
        'postgres',
        '--ca-file',
        caFile,
        '--',
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        'select * from no_such_table',
      ],
      { env },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no_such_table');
  });

  it('connect psql through a "tunnel": dials 127.0.0.1, verifies and signs for the RDS name', async () => {
    const r = await rdsIam(
      [
        'connect',
        'psql',
        '--host',
        '127.0.0.1',
        '--port',
        String(named.port),
        '--user',
        USER,
        '--signing-host',
        RDS_HOST,
        '--signing-port',
        '5432',
        '--database',
        'postgres',
        '--ca-file',
        namedCaFile,
        '--',
        '-tAc',
        'select 2',
      ],
      { env: cleanEnv(DEMO_ENV) },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('2');
  });

  it('connect with a missing client exits 127 and says how to install it', async () => {
    const r = await rdsIam(
      ['connect', 'psql', ...target(), '--client-path', join(dir, 'no-such-psql')],
      { env },
    );
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/not found: install the PostgreSQL client/);
  });

  it('doctor passes every check against the emulator', async () => {
    const r = await rdsIam(
      ['doctor', '--engine', 'postgres', ...target(), '--ca-file', caFile, '--json'],
      { env },
    );
    const report = json<{ ok: boolean; checks: { id: string; status: string }[] }>(r.stdout);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['endpoint', 'pass'],
      ['credentials', 'pass'],
      ['token', 'pass'],
      ['clock', 'pass'],
      ['dns', 'pass'],
      ['tcp', 'pass'],
      ['tls', 'pass'],
      ['login', 'pass'],
      ['server-clock', 'pass'],
    ]);
    expect(report.ok).toBe(true);
    expect(r.code).toBe(0);
    expect(check(r.stdout, 'credentials').detail).toMatch(
      /environment variables.*AKIA…0001, long-term key/,
    );
    expect(check(r.stdout, 'tls').detail).toMatch(/TLSv1\.[23].*verified against --ca-file/);
    expect(r.stdout).not.toMatch(/X-Amz-Signature|AKIAEMULATORDEMO0001/);

    const human = await rdsIam(
      ['doctor', '--engine', 'postgres', ...target(), '--ca-file', caFile],
      { env },
    );
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ {2}PASS {2}login {8}accepted as rds_iam_cli_pg/m);
    expect(human.stdout.trimEnd().split('\n').at(-1)).toBe('9 passed, 0 failed, 0 warnings');
  });

  it('doctor explains a rejected token (PAM authentication failed)', async () => {
    plain.rejectNextLogins(1);
    const r = await rdsIam(
      ['doctor', '--engine', 'postgres', ...target(), '--ca-file', caFile, '--json'],
      { env },
    );
    expect(r.code).toBe(1);
    const login = check(r.stdout, 'login');
    expect(login.status).toBe('fail');
    expect(login.detail).toBe(`rejected: PAM authentication failed for user "${USER}" (28P01)`);
    const causes = (login.causes ?? []).join('\n');
    expect(causes).toContain(`GRANT rds_iam TO "${USER}"`);
    expect(causes).toMatch(
      /rds-db:connect .*arn:aws:rds-db:us-east-1:ACCOUNT:dbuser:.*\/rds_iam_cli_pg/,
    );
    expect(causes).toContain('--enable-iam-database-authentication');
    expect(causes).toMatch(/signed for rds_iam_cli_pg@127\.0\.0\.1:\d+ in us-east-1/);
    expect(causes).toMatch(/clock is off/);
    expect(plain.counters().rejectedByReason.injected).toBe(1);
    expect(check(r.stdout, 'server-clock').status).toBe('skip');
  });

  it('doctor explains a user the database does not know', async () => {
    const r = await rdsIam(
      [
        'doctor',
        '--engine',
        'postgres',
        '--host',
        plain.host,
        '--port',
        String(plain.port),
        '--user',
        'no_such_user',
        '--ca-file',
        caFile,
        '--json',
      ],
      { env },
    );
    expect(r.code).toBe(1);
    const login = check(r.stdout, 'login');
    expect(login.detail).toMatch(/role "no_such_user" does not exist/);
    expect(login.fix).toBe(
      'the database has no user no_such_user: CREATE USER "no_such_user"; GRANT rds_iam TO "no_such_user"; (as the master user)',
    );
  });

  it('doctor catches a wrong region: the endpoint check and the rejection say so', async () => {
    const before = named.counters().rejectedByReason['wrong-region'] ?? 0;
    const r = await rdsIam(
      [
        'doctor',
        '--engine',
        'postgres',
        '--host',
        '127.0.0.1',
        '--port',
        String(named.port),
        '--user',
        USER,
        '--signing-host',
        RDS_HOST,
        '--signing-port',
        '5432',
        '--region',
        'eu-west-1',
        '--ca-file',
        namedCaFile,
        '--json',
      ],
      { env: cleanEnv(DEMO_ENV) },
    );
    expect(r.code).toBe(1);
    const endpoint = check(r.stdout, 'endpoint');
    expect(endpoint.status).toBe('fail');
    expect(endpoint.detail).toMatch(
      /DB instance 'orders' in us-east-1 .*but --region is eu-west-1/,
    );
    expect(endpoint.fix).toMatch(/drop --region/);
    expect(check(r.stdout, 'tls').status).toBe('pass');
    const login = check(r.stdout, 'login');
    expect(login.detail).toMatch(/PAM authentication failed/);
    expect(login.causes?.[0]).toBe(
      'the token is signed for eu-west-1, but the endpoint is in us-east-1: drop --region',
    );
    expect(named.counters().rejectedByReason['wrong-region']).toBe(before + 1);
  });

  it('doctor reports expired credentials and sends nothing', async () => {
    const before = plain.counters().connectionsOpened;
    const r = await rdsIam(
      ['doctor', '--engine', 'postgres', ...target(), '--ca-file', caFile, '--json'],
      {
        env: cleanEnv({
          AWS_ACCESS_KEY_ID: 'ASIAEMULATORDEMO0002',
          AWS_SECRET_ACCESS_KEY: 'temporary/secret',
          AWS_SESSION_TOKEN: 'FwoGZXIvYXdzEXAMPLE',
          AWS_CREDENTIAL_EXPIRATION: '2024-01-01T00:00:00Z',
          AWS_REGION: 'us-east-1',
        }),
      },
    );
    expect(r.code).toBe(1);
    const credentials = check(r.stdout, 'credentials');
    expect(credentials.status).toBe('fail');
    expect(credentials.detail).toMatch(
      /environment variables.*expire at 2024-01-01T00:00:00\.000Z/,
    );
    expect(credentials.fix).toMatch(/expired: refresh them/);
    expect(check(r.stdout, 'token').status).toBe('skip');
    expect(check(r.stdout, 'login')).toMatchObject({
      status: 'skip',
      detail: 'no token (see above)',
    });
    // The network checks still ran (TCP + TLS), but no login was attempted.
    expect(plain.counters().connectionsOpened).toBe(before + 1);
    expect(r.stdout).not.toContain('FwoGZXIvYXdzEXAMPLE');
  });

  it('doctor refuses to send the token without TLS (the plain upstream server)', async () => {
    if (!upstream) return;
    const offers = await postgresOffersTls(upstream.host, upstream.port);
    const r = await rdsIam(
      [
        'doctor',
        '--engine',
        'postgres',
        '--host',
        upstream.host,
        '--port',
        String(upstream.port),
        '--user',
        USER,
        '--json',
      ],
      { env },
    );
    expect(r.code).toBe(1);
    const tls = check(r.stdout, 'tls');
    expect(tls.status).toBe('fail');
    if (offers) {
      expect(tls.detail).toMatch(/does not verify against the RDS CA bundle/);
    } else {
      expect(tls.detail).toBe("the server answered the SSLRequest with 'N': it does not offer TLS");
      expect(tls.fix).toMatch(/RDS always offers TLS/);
    }
    expect(check(r.stdout, 'login')).toMatchObject({
      status: 'skip',
      detail: 'not attempted: the token is never sent without verified TLS',
    });
  });

  it("doctor without the emulator's CA: the certificate does not verify against the RDS CAs", async () => {
    const r = await rdsIam(['doctor', '--engine', 'postgres', ...target(), '--json'], { env });
    expect(r.code).toBe(1);
    const tls = check(r.stdout, 'tls');
    expect(tls.detail).toMatch(
      /issued by CN=rds-iam emulator.*does not verify against the RDS CA bundle/,
    );
    expect(tls.fix).toMatch(/pass its CA with --ca-file/);
  });

  it('doctor on a closed port: TCP fails with the fix', async () => {
    const port = await closedPort();
    const r = await rdsIam(
      [
        'doctor',
        '--engine',
        'postgres',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--user',
        USER,
        '--timeout',
        '2000',
      ],
      { env },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(`FAIL {2}tcp {10}cannot connect to 127\\.0\\.0\\.1:${port}: ECONNREFUSED`),
    );
    expect(r.stdout).toMatch(/fix: nothing accepts connections on port/);
    expect(r.stdout).toMatch(/SKIP {2}login/);
  });

  it('doctor on a name that does not resolve', async () => {
    const r = await rdsIam(
      [
        'doctor',
        '--engine',
        'postgres',
        '--host',
        'no-such-host.invalid',
        '--user',
        USER,
        '--region',
        'us-east-1',
        '--json',
        '--timeout',
        '3000',
      ],
      { env },
    );
    expect(r.code).toBe(1);
    expect(check(r.stdout, 'dns').status).toBe('fail');
    expect(check(r.stdout, 'tcp').status).toBe('skip');
  });

  it('connect writes the RDS CA bundle to a private temporary file and removes it', async () => {
    const record = join(dir, 'psql-bundle-record.json');
    const wrapper = writeRecordingClient(dir, 'psql', record);
    const r = await rdsIam(
      ['connect', 'psql', ...target(), '--client-path', wrapper, '--', '-c', 'select 1'],
      { env },
    );
    // The emulator's certificate is not from an RDS CA: psql refuses it, and its exit code comes back.
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/certificate verify failed/);
    const bundle = /sslrootcert=(\S+)/.exec(readRecord(record).argv[0] ?? '')?.[1] ?? '';
    expect(bundle).toMatch(/rds-iam-connect-[^/]+\/rds-ca-bundle\.pem$/);
    expect(existsSync(bundle)).toBe(false);
  });
});
