import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Emulator, startEmulator } from '@rds-iam/emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminSql,
  assertBuilt,
  check,
  cleanEnv,
  DEMO_ENV,
  hasCommand,
  json,
  mysqlOffersTls,
  rdsIam,
  readRecord,
  removeScratch,
  scratchDir,
  upstreamFor,
  writeRecordingClient,
} from './helpers.js';

const upstream = await upstreamFor('mysql');
const USER = 'rds_iam_cli_my';

afterAll(removeScratch);

describe.skipIf(!upstream)('MySQL / MariaDB behind the emulator', () => {
  let emulator: Emulator;
  let dir: string;
  let caFile: string;
  let client: 'mariadb' | 'mysql';
  const env = cleanEnv({ ...DEMO_ENV, AWS_REGION: 'us-east-1' });
  const target = (): string[] => [
    '--host',
    emulator.host,
    '--port',
    String(emulator.port),
    '--user',
    USER,
  ];

  beforeAll(async () => {
    assertBuilt();
    if (!upstream) return;
    await adminSql(
      'mysql',
      upstream,
      `CREATE USER IF NOT EXISTS '${USER}'@'%'; CREATE USER IF NOT EXISTS '${USER}'@'127.0.0.1'; CREATE USER IF NOT EXISTS '${USER}'@'localhost'`,
    );
    emulator = await startEmulator({ engine: 'mysql', upstream: upstream.url });
    dir = scratchDir();
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, emulator.caPem);
    client = (await hasCommand('mysql')) ? 'mysql' : 'mariadb';
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  it('connect mysql runs the query; the token is in a 0600 option file, never in argv, removed after', async () => {
    const record = join(dir, 'mysql-record.json');
    const wrapper = writeRecordingClient(dir, client, record);
    const r = await rdsIam(
      [
        'connect',
        'mysql',
        ...target(),
        '--ca-file',
        caFile,
        '--client-path',
        wrapper,
        '--',
        '-N',
        '-e',
        'select 1',
      ],
      { env: { ...env, MYSQL_PWD: 'must-not-be-used' } },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('1');
    expect(r.code).toBe(0);
    const seen = readRecord(record);
    expect(seen.argv.join(' ')).not.toMatch(/Action=connect|X-Amz-|DBUser/);
    expect(seen.argv[0]).toMatch(/^--defaults-extra-file=.*rds-iam-connect-[^/]+\/client\.cnf$/);
    expect(seen.optionFileMode).toBe('600');
    expect(seen.optionDirMode).toBe('700');
    expect(seen.mysqlPwd).toBeNull();
    expect(seen.argv).toEqual(
      expect.arrayContaining([
        `--host=127.0.0.1`,
        `--port=${emulator.port}`,
        `--user=${USER}`,
        '--protocol=TCP',
        `--ssl-ca=${caFile}`,
      ]),
    );
    // TLS verified, and the cleartext plugin allowed, in the dialect of the installed client.
    expect(
      seen.argv.includes('--ssl-verify-server-cert') ||
        (seen.argv.includes('--ssl-mode=VERIFY_IDENTITY') &&
          seen.argv.includes('--enable-cleartext-plugin')),
    ).toBe(true);
    expect(seen.argv.slice(-3)).toEqual(['-N', '-e', 'select 1']);
    expect(existsSync(seen.optionFile ?? '')).toBe(false);
    expect(existsSync(dirname(seen.optionFile ?? ''))).toBe(false);
  });

  it("connect mysql passes the client's exit code through", async () => {
    const r = await rdsIam(
      [
        'connect',
        'mysql',
        ...target(),
        '--ca-file',
        caFile,
        '--',
        '-e',
        'select * from no_such_db.t',
      ],
      { env },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no_such_db/);
  });

  it('connect mariadb works too', async () => {
    if (!(await hasCommand('mariadb'))) return;
    const r = await rdsIam(
      [
        'connect',
        'mariadb',
        ...target(),
        '--ca-file',
        caFile,
        '--',
        '-N',
        '-e',
        'select current_user()',
      ],
      { env },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(new RegExp(`^${USER}@`));
  });

  it('doctor passes every check against the emulator', async () => {
    const r = await rdsIam(
      ['doctor', '--engine', 'mysql', ...target(), '--ca-file', caFile, '--json'],
      { env },
    );
    const report = json<{ ok: boolean; checks: { id: string; status: string }[] }>(r.stdout);
    expect(report.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(report.checks).toHaveLength(9);
    expect(r.code).toBe(0);
    expect(check(r.stdout, 'login').detail).toMatch(/^accepted as rds_iam_cli_my/);
    expect(check(r.stdout, 'server-clock').detail).toMatch(
      /server's clock is \d+\.\d s (ahead of|behind) this machine's/,
    );
  });

  it('doctor explains a rejected token (1045)', async () => {
    emulator.rejectNextLogins(1);
    const r = await rdsIam(
      ['doctor', '--engine', 'mysql', ...target(), '--ca-file', caFile, '--json'],
      { env },
    );
    expect(r.code).toBe(1);
    const login = check(r.stdout, 'login');
    expect(login.detail).toBe(
      `rejected: Access denied for user '${USER}'@'127.0.0.1' (using password: YES) (1045 / 28000)`,
    );
    expect(login.fix).toMatch(/RDS answers 1045/);
    const causes = (login.causes ?? []).join('\n');
    expect(causes).toContain(
      `CREATE USER '${USER}' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'`,
    );
    expect(causes).toMatch(/rds-db:connect/);
    expect(emulator.counters().rejectedByReason.injected).toBe(1);
  });

  it('doctor refuses to send the token without TLS (the plain upstream server)', async () => {
    if (!upstream) return;
    const offers = await mysqlOffersTls(upstream.host, upstream.port);
    const r = await rdsIam(
      [
        'doctor',
        '--engine',
        'mysql',
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
    expect(tls.detail).toMatch(
      offers
        ? /does not verify against the RDS CA bundle/
        : /does not offer TLS \(no CLIENT_SSL in its greeting\)/,
    );
    expect(check(r.stdout, 'login').status).toBe('skip');
  });
});
