import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  adminSql,
  assertBuilt,
  BIN,
  cleanEnv,
  DEMO_ENV,
  pgIamUserSql,
  rdsIam,
  removeScratch,
  upstreamFor,
} from './helpers.js';

const upstream = await upstreamFor('postgres');
const USER = 'rds_iam_cli_emu';

/** Starts `rds-iam emulator` and resolves with its child and the stdout printed up to `until`. */
function startCommand(
  args: string[],
  until: RegExp,
): Promise<{ child: ChildProcessWithoutNullStreams; stdout: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, 'emulator', ...args], { env: cleanEnv() });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`the emulator did not start: ${stdout}${stderr}`));
    }, 10_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (until.test(stdout)) {
        clearTimeout(timer);
        done({ child, stdout });
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the emulator exited with ${code}: ${stdout}${stderr}`));
    });
  });
}

function exitOf(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((done) => {
    if (child.exitCode !== null) done(child.exitCode);
    else child.once('exit', (code) => done(code));
  });
}

/** CA files the command wrote to its default place, the temporary directory: removed at the end. */
const defaultCaFiles: string[] = [];
afterAll(() => {
  for (const file of defaultCaFiles.splice(0)) rmSync(file, { force: true });
  removeScratch();
});

describe.skipIf(!upstream)('rds-iam emulator', () => {
  let running: ChildProcessWithoutNullStreams | undefined;

  beforeAll(async () => {
    assertBuilt();
    if (upstream) {
      await adminSql('postgres', upstream, pgIamUserSql(USER));
    }
  });
  afterEach(() => {
    if (running && running.exitCode === null) running.kill('SIGKILL');
  });

  it('--json prints where it is; a client logs in through it; SIGTERM stops it with exit code 0', async () => {
    const { child, stdout } = await startCommand(
      ['--engine', 'postgres', '--upstream', upstream?.url ?? '', '--json'],
      /\n/,
    );
    running = child;
    const info = JSON.parse(stdout.trim()) as {
      host: string;
      port: number;
      endpoint: { host: string; port: number };
      region: string;
      caFile: string;
      tlsRequired: boolean;
      credentials: Record<string, string>;
    };
    expect(info).toMatchObject({ host: '127.0.0.1', region: 'us-east-1', tlsRequired: true });
    expect(info.endpoint).toEqual({ host: '127.0.0.1', port: info.port });
    defaultCaFiles.push(info.caFile);
    expect(readFileSync(info.caFile, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(info.credentials).toEqual({ ...DEMO_ENV, AWS_REGION: 'us-east-1' });

    const r = await rdsIam(
      [
        'connect',
        'psql',
        '--host',
        info.host,
        '--port',
        String(info.port),
        '--user',
        USER,
        '--database',
        'postgres',
        '--ca-file',
        info.caFile,
        '--',
        '-tAc',
        'select current_user',
      ],
      { env: cleanEnv(info.credentials) },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(USER);

    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
  });

  it('prints the endpoint, the CA file and the demo credentials as export lines; Ctrl-C stops it', async () => {
    const { child, stdout } = await startCommand(
      [
        '--engine',
        'postgres',
        '--upstream',
        upstream?.url ?? '',
        '--endpoint',
        'orders.c9akciq32xyz.eu-west-1.rds.amazonaws.com:5432',
        '--region',
        'eu-west-1',
      ],
      /Ctrl-C to stop\./,
    );
    running = child;
    expect(stdout).toMatch(/^rds-iam emulator \(postgres\) listening on 127\.0\.0\.1:\d+$/m);
    expect(stdout).toMatch(
      /^ {2}endpoint {3}orders\.c9akciq32xyz\.eu-west-1\.rds\.amazonaws\.com:5432 in eu-west-1/m,
    );
    const caFile = /CA file (\S+)/.exec(stdout)?.[1] ?? '';
    defaultCaFiles.push(caFile);
    expect(existsSync(caFile)).toBe(true);
    expect(stdout).toContain(`  export AWS_ACCESS_KEY_ID=${DEMO_ENV.AWS_ACCESS_KEY_ID}\n`);
    expect(stdout).toContain(`  export AWS_SECRET_ACCESS_KEY=${DEMO_ENV.AWS_SECRET_ACCESS_KEY}\n`);
    expect(stdout).toContain('  export AWS_REGION=eu-west-1\n');
    expect(stdout).toMatch(
      /rds-iam connect psql .* --signing-host orders\.c9akciq32xyz\.eu-west-1\.rds\.amazonaws\.com --signing-port 5432/,
    );
    expect(stdout).not.toContain('\u001b[');
    child.kill('SIGINT');
    expect(await exitOf(child)).toBe(0);
  });

  it('a bad upstream URL is a usage error', async () => {
    const r = await rdsIam([
      'emulator',
      '--engine',
      'postgres',
      '--upstream',
      'mysql://127.0.0.1:3306',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/upstream scheme mysql: does not match engine postgres/);
  });
});
