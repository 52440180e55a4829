// The seed's walk-through ("Secure database authentication using AWS IAM") end to end, as a person
// types it, with rds-iam standing in for AWS: create the user with the IAM grant, write the policy
// with `rds-iam policy`, check it with `rds-iam policy check`, start the emulator with that policy,
// log in with `rds-iam connect` and with the plain native client given the password from
// `rds-iam token`. Then the mistake the seed warns about: a policy whose resource id is wrong. The
// login is refused exactly as on RDS, the emulator's log line and `rds-iam doctor` name the cause.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_CREDENTIALS } from '@rds-iam/emulator';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  type Engine,
  hasDatabase,
  type IamUser,
  requireDatabase,
  UPSTREAM_PASSWORD,
} from '../harness/index.js';

const BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const ENDPOINT = 'rds-auth-demo.abc123xyz.us-east-1.rds.amazonaws.com';
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const RESOURCE_ID = 'db-SEEDWALKTHROUGH0123456789';
const WRONG_RESOURCE_ID = 'db-ANOTHERINSTANCE0000000000';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a person has after configuring the AWS CLI with the emulator's demo key. */
function personEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(AWS_|PG|MYSQL_|NO_COLOR|FORCE_COLOR)/.test(k)) env[k] = v;
  }
  return {
    ...env,
    AWS_ACCESS_KEY_ID: DEMO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DEMO_CREDENTIALS.secretAccessKey,
    AWS_REGION: REGION,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

/** Runs a program to its end (bounded), collecting its output. */
function run(command: string, args: readonly string[], env = personEnv()): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

const rdsIam = (args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Run> =>
  run(process.execPath, [BIN, ...args], env);

/** `rds-iam emulator --json ...` in the background, with its login lines. */
interface RunningEmulator {
  readonly port: number;
  readonly caFile: string;
  /** What it printed on stderr so far: one line per login. */
  logins(): string;
  stop(): Promise<void>;
}

function startEmulatorCommand(args: readonly string[]): Promise<RunningEmulator> {
  return new Promise((done, fail) => {
    const child: ChildProcessWithoutNullStreams = spawn(
      process.execPath,
      [BIN, 'emulator', '--json', ...args],
      { env: personEnv() },
    );
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`rds-iam emulator did not start: ${stdout}${stderr}`));
    }, 15_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`rds-iam emulator exited with ${code}: ${stdout}${stderr}`));
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!stdout.includes('\n')) return;
      clearTimeout(timer);
      const ready = JSON.parse(stdout.split('\n')[0] ?? '') as { port: number; caFile: string };
      done({
        port: ready.port,
        caFile: ready.caFile,
        logins: () => stderr,
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}

const ENGINES: readonly { engine: Engine; client: 'psql' | 'mariadb' }[] = [
  { engine: 'postgres', client: 'psql' },
  { engine: 'mysql', client: 'mariadb' },
];

for (const { engine, client } of ENGINES) {
  describe.runIf(hasDatabase(engine))(`the seed walk-through on ${engine}`, () => {
    const defaultPort = engine === 'postgres' ? '5432' : '3306';
    let iamUser: IamUser;
    let dir: string;
    let policyFile: string;
    let wrongPolicyFile: string;
    let good: RunningEmulator;
    let wrong: RunningEmulator;
    const target = () => [
      '--region',
      REGION,
      '--account',
      ACCOUNT,
      '--resource-id',
      RESOURCE_ID,
      '--user',
      iamUser.user,
    ];
    const emulatorArgs = (policy: string) => {
      const db = requireDatabase(engine);
      const scheme = engine === 'postgres' ? 'postgres' : 'mysql';
      return [
        '--engine',
        engine,
        '--upstream',
        // PostgreSQL: the harness users' password; MySQL: none, as an IAM user has none.
        engine === 'postgres'
          ? `${scheme}://:${encodeURIComponent(UPSTREAM_PASSWORD)}@${db.host}:${db.port}`
          : `${scheme}://${db.host}:${db.port}`,
        '--endpoint',
        `${ENDPOINT}:${defaultPort}`,
        '--region',
        REGION,
        '--account',
        ACCOUNT,
        '--resource-id',
        RESOURCE_ID,
        '--policy-file',
        policy,
        '--ca-file',
        join(dir, `${policy === policyFile ? 'good' : 'wrong'}-ca.pem`),
      ];
    };
    // What `rds-iam connect` / `token` / `doctor` need to reach an emulator as the RDS endpoint.
    const dial = (e: RunningEmulator) => [
      '--host',
      '127.0.0.1',
      '--port',
      String(e.port),
      '--user',
      iamUser.user,
      '--signing-host',
      ENDPOINT,
      '--signing-port',
      defaultPort,
      '--ca-file',
      e.caFile,
    ];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), `rds-iam-seed-${engine}-`));
      // 1. CREATE USER demo_user; GRANT rds_iam TO demo_user; (the harness creates users as the seed
      //    does; the emulator, strict as RDS by default, refuses a user without it: see below)
      iamUser = await createIamUser(engine, { database: true });
    });
    afterAll(async () => {
      await Promise.all([good?.stop(), wrong?.stop()]);
      await iamUser?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('rds-iam policy writes the policy and rds-iam policy check allows it for the same inputs', async () => {
      const written = await rdsIam(['policy', ...target()]);
      expect(written.stderr).toBe('');
      expect(written.code).toBe(0);
      expect(JSON.parse(written.stdout)).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'rds-db:connect',
            Resource: [`arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:${RESOURCE_ID}/${iamUser.user}`],
          },
        ],
      });
      policyFile = join(dir, 'policy.json');
      writeFileSync(policyFile, written.stdout);
      const checked = await rdsIam([
        'policy',
        'check',
        '--json',
        '--policy-file',
        policyFile,
        ...target(),
      ]);
      expect(checked.code).toBe(0);
      expect(JSON.parse(checked.stdout)).toMatchObject({ decision: 'allow', user: iamUser.user });
    });

    test(`the emulator with that policy lets in rds-iam connect ${client} and plain ${client} with the token`, async () => {
      good = await startEmulatorCommand(emulatorArgs(policyFile));
      const query = engine === 'postgres' ? 'select current_user' : 'select current_user()';
      const flags = engine === 'postgres' ? ['-tAc', query] : ['-N', '-e', query];
      const connected = await rdsIam([
        'connect',
        client,
        ...dial(good),
        ...(iamUser.database ? ['--database', iamUser.database] : []),
        '--',
        ...flags,
      ]);
      expect(connected.stderr).toBe('');
      expect(connected.code).toBe(0);
      expect(connected.stdout.trim()).toMatch(new RegExp(`^${iamUser.user}(@.*)?$`));

      // export PGPASSWORD="$(aws rds generate-db-auth-token ...)" with rds-iam token instead.
      const minted = await rdsIam(['token', ...dial(good).slice(0, -2)]);
      expect(minted.code).toBe(0);
      const token = minted.stdout.trim();
      const plain =
        engine === 'postgres'
          ? await run(
              'psql',
              [
                `host=${ENDPOINT} hostaddr=127.0.0.1 port=${good.port} user=${iamUser.user} dbname=${iamUser.database} sslmode=verify-full sslrootcert=${good.caFile}`,
                ...flags,
              ],
              personEnv({ PGPASSWORD: token }),
            )
          : await run(
              'mariadb',
              [
                '--host=127.0.0.1',
                `--port=${good.port}`,
                `--user=${iamUser.user}`,
                // MariaDB's client sends the password in clear text to mysql_clear_password over TLS
                // on its own (--enable-cleartext-plugin is obsolete there).
                `--ssl-ca=${good.caFile}`,
                '--ssl-verify-server-cert',
                ...flags,
              ],
              personEnv({ MYSQL_PWD: token }),
            );
      expect(plain.stderr).toBe('');
      expect(plain.stdout.trim()).toMatch(new RegExp(`^${iamUser.user}(@.*)?$`));
      const lines = good.logins().trim().split('\n');
      expect(lines).toHaveLength(2);
      for (const line of lines) expect(line).toMatch(new RegExp(`login ${iamUser.user}: accepted`));
      expect(good.logins()).not.toContain(token.slice(token.indexOf('X-Amz-Signature=')));
    });

    test(`without ${engine === 'postgres' ? 'GRANT rds_iam' : 'the IAM user set-up (a password of its own)'} the same policy and token are refused, as on RDS`, async () => {
      const other = await createIamUser(engine, { iam: false });
      try {
        const policy = join(dir, 'other-policy.json');
        const written = await rdsIam(['policy', ...target().slice(0, 6), '--user', other.user]);
        writeFileSync(policy, written.stdout);
        const e = await startEmulatorCommand(emulatorArgs(policy));
        try {
          const refused = await rdsIam([
            'connect',
            client,
            ...dial(e).map((a) => (a === iamUser.user ? other.user : a)),
            ...(other.database ? ['--database', other.database] : []),
            '--',
            engine === 'postgres' ? '-c' : '-e',
            'select 1',
          ]);
          expect(refused.code).not.toBe(0);
          expect(refused.stderr).toMatch(
            engine === 'postgres'
              ? new RegExp(`password authentication failed for user "${other.user}"`)
              : new RegExp(
                  `Access denied for user '${other.user}'@'[^']+' \\(using password: YES\\)`,
                ),
          );
          expect(e.logins()).toContain(`login ${other.user}: refused, not-iam-user (`);
        } finally {
          await e.stop();
        }
      } finally {
        await other.drop();
      }
    });

    test('a policy with the wrong resource id: refused as on RDS, and doctor names the resource id', async () => {
      const written = await rdsIam([
        'policy',
        ...target().slice(0, 4),
        '--resource-id',
        WRONG_RESOURCE_ID,
        '--user',
        iamUser.user,
      ]);
      wrongPolicyFile = join(dir, 'wrong-policy.json');
      writeFileSync(wrongPolicyFile, written.stdout);
      const checked = await rdsIam([
        'policy',
        'check',
        '--policy-file',
        wrongPolicyFile,
        ...target(),
      ]);
      expect(checked.code).toBe(1);
      expect(checked.stdout).toContain('the resource id differs');

      wrong = await startEmulatorCommand(emulatorArgs(wrongPolicyFile));
      const refused = await rdsIam([
        'connect',
        client,
        ...dial(wrong),
        '--',
        engine === 'postgres' ? '-c' : '-e',
        'select 1',
      ]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(
        engine === 'postgres'
          ? new RegExp(`PAM authentication failed for user "${iamUser.user}"`)
          : new RegExp(
              `Access denied for user '${iamUser.user}'@'[^']+' \\(using password: YES\\)`,
            ),
      );
      expect(wrong.logins()).toMatch(
        new RegExp(
          `login ${iamUser.user}: refused, not-authorized \\(implicit-deny .*the resource id differs\\)`,
        ),
      );

      const doctor = await rdsIam([
        'doctor',
        '--json',
        '--engine',
        engine,
        ...dial(wrong),
        '--resource-id',
        RESOURCE_ID,
        '--account',
        ACCOUNT,
        '--policy-file',
        wrongPolicyFile,
        ...(engine === 'postgres' && iamUser.database ? ['--database', iamUser.database] : []),
      ]);
      expect(doctor.code).toBe(1);
      const report = JSON.parse(doctor.stdout) as {
        checks: { id: string; status: string; detail: string; fix?: string; causes?: string[] }[];
      };
      const authorization = report.checks.find((c) => c.id === 'authorization');
      expect(authorization?.status).toBe('fail');
      expect(authorization?.detail).toContain(
        `allows arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:${WRONG_RESOURCE_ID}/${iamUser.user}, the login needs arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:${RESOURCE_ID}/${iamUser.user}: the resource id differs`,
      );
      const login = report.checks.find((c) => c.id === 'login');
      expect(login?.status).toBe('fail');
      expect(login?.causes?.[0]).toMatch(/^the IAM policy does not allow this login .*resource id/);
    });
  });
}
