import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEMO_CREDENTIALS } from '@rds-iam/emulator';
import { describe, expect, test } from 'vitest';
import { adminQuery, databaseFor } from '../harness/index.js';

const DEMO = fileURLToPath(new URL('../../examples/demo/demo.mjs', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the demo as `pnpm demo` does after its build, and collects what it printed. */
function runDemo(env: Record<string, string> = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', DEMO], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** What every successful run shows, whatever database it used. */
function expectCompleteRun(run: Run): void {
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const steps = run.stdout.match(/^\d\. .+$/gm);
  expect(steps).toEqual([
    '1. Started the RDS IAM emulator',
    '2. Minted an IAM auth token',
    '3. Connected with node-postgres over verified TLS and ran a query',
    '4. Moved the clock 20 minutes forward',
    '5. New connection after 20 minutes: logged in with a newly minted token',
  ]);
  expect(run.stdout).toMatch(
    /issued \d\d:\d\d:\d\d UTC, expires \d\d:\d\d:\d\d UTC: it lives 15 minutes/,
  );
  expect(run.stdout).toMatch(/over TLSv1\.[23]/);
  expect(run.stdout).toContain('token cache: 1 token minted, 1 cache hit');
  expect(run.stdout).toMatch(/rejected: 28P01 PAM authentication failed for user "/);
  expect(run.stdout).toContain('token cache: 2 tokens minted, 1 cache hit');
  expect(run.stdout).toContain('emulator: 2 logins accepted, 1 rejected (expired: 1)');
  expect(run.stdout).toMatch(/^Done\./m);
  // Redacted, never the token: no signature, no secret key.
  expect(run.stdout).toContain('X-Amz-Signature=[redacted]');
  const all = run.stdout + run.stderr;
  expect(all).not.toMatch(/X-Amz-Signature=[0-9a-f]/i);
  expect(all).not.toContain(DEMO_CREDENTIALS.secretAccessKey);
  expect(run.ms).toBeLessThan(30_000);
}

describe('pnpm demo', () => {
  const local = databaseFor('postgres');
  test.runIf(local?.source === 'local')(
    'against the local PostgreSQL: logs in, survives 20 minutes, leaves no demo user behind',
    async () => {
      const run = await runDemo();
      expectCompleteRun(run);
      expect(run.stdout).toMatch(
        /^Database: the PostgreSQL [\d.]+ on 127\.0\.0\.1:5432, with a demo user "rds_iam_demo_[0-9a-f]{6}"/m,
      );
      const user = /demo user "(rds_iam_demo_[0-9a-f]{6})"/.exec(run.stdout)?.[1];
      expect(run.stdout).toContain(`logged in as "${user}"`);
      if (!local) return;
      const left = await adminQuery(local, 'SELECT rolname FROM pg_roles WHERE rolname = $1', [
        user,
      ]);
      expect(left).toEqual([]);
    },
  );

  test('embedded (RDS_IAM_DEMO_EMBEDDED=1): PGlite behind its socket server, through the emulator', async () => {
    const run = await runDemo({ RDS_IAM_DEMO_EMBEDDED: '1' });
    expectCompleteRun(run);
    expect(run.stdout).toContain(
      'Starting an embedded PostgreSQL (PGlite), because RDS_IAM_DEMO_EMBEDDED=1',
    );
    expect(run.stdout).toMatch(
      /^Database: embedded PGlite \(PostgreSQL \d+\.\d+ in WebAssembly\) on 127\.0\.0\.1:\d+$/m,
    );
    expect(run.stdout).toContain('logged in as "postgres"');
  });
});
