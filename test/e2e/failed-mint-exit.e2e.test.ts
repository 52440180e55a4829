// When no token can be minted (here: a credential provider that fails), every integration fails the
// query and ends its pool; then the process must exit by itself. A connection the driver opened
// before asking for its password (node-postgres, mysql2 and everything built on them) used to stay
// half-open after the failed mint and keep the process alive until the server dropped the
// unfinished login: 10 s with the emulator, 60 s with PostgreSQL's authentication_timeout. Each
// integration runs in a process of its own (failed-mint-child.mjs); the emulator waits far longer
// than the bound for a login, so only our own close of the socket lets the process go in time.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Emulator, startEmulator } from '@rds-iam/emulator';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  DEFAULT_ENDPOINT_HOST,
  type Engine,
  hasDatabase,
  requireDatabase,
} from '../harness/index.js';

const CHILD = fileURLToPath(new URL('failed-mint-child.mjs', import.meta.url));
/** How long the emulator waits for a client to finish its login: far beyond the bound below. */
const HANDSHAKE_TIMEOUT_MS = 120_000;
/** The bound on "exits by itself": generous, since a slow machine is not what this tests. */
const EXIT_BOUND_MS = 8_000;

interface Case {
  readonly name: string;
  readonly engine: Engine;
  /**
   * Whether the driver connects before it asks for the password (so that a failed mint leaves a
   * socket to close). The mariadb connector asks rds-iam before it opens the socket.
   */
  readonly socketFirst: boolean;
}

const CASES: readonly Case[] = [
  { name: 'pg', engine: 'postgres', socketFirst: true },
  { name: 'mysql2', engine: 'mysql', socketFirst: true },
  { name: 'knex pg', engine: 'postgres', socketFirst: true },
  { name: 'knex mysql2', engine: 'mysql', socketFirst: true },
  { name: 'typeorm postgres', engine: 'postgres', socketFirst: true },
  { name: 'typeorm mysql', engine: 'mysql', socketFirst: true },
  { name: 'sequelize postgres', engine: 'postgres', socketFirst: true },
  { name: 'sequelize mysql', engine: 'mysql', socketFirst: true },
  { name: 'sequelize mariadb', engine: 'mysql', socketFirst: false },
  { name: 'mikro-orm postgres', engine: 'postgres', socketFirst: true },
  { name: 'mikro-orm mysql', engine: 'mysql', socketFirst: true },
  { name: 'mikro-orm mariadb', engine: 'mysql', socketFirst: false },
  { name: 'prisma pg', engine: 'postgres', socketFirst: true },
  { name: 'prisma mariadb', engine: 'mysql', socketFirst: false },
  { name: 'postgres.js', engine: 'postgres', socketFirst: true },
];

interface ChildRun {
  /** The child's `result:` line: the query failed, with this code, and the pool was ended. */
  report: { failed: boolean; code?: string; ended: boolean } | undefined;
  /** Milliseconds from that line to the process's exit, or undefined if it was still running. */
  exitedAfterMs: number | undefined;
  code: number | null;
  stderr: string;
}

/** Runs the child for `name` and waits for its exit, at most EXIT_BOUND_MS after its report. */
function runChild(name: string, env: Record<string, string>): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, name], {
      cwd: fileURLToPath(new URL('.', import.meta.url)),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let reportedAt: number | undefined;
    let killer: NodeJS.Timeout | undefined;
    // A child that never reports (a hung query) is stopped too.
    const overall = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (reportedAt === undefined && /^result: .*\n/m.test(stdout)) {
        reportedAt = performance.now();
        killer = setTimeout(() => child.kill('SIGKILL'), EXIT_BOUND_MS);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('exit', (code, signal) => {
      clearTimeout(overall);
      clearTimeout(killer);
      const line = /^result: (.*)$/m.exec(stdout)?.[1];
      resolve({
        report: line === undefined ? undefined : JSON.parse(line),
        exitedAfterMs:
          signal === 'SIGKILL' || reportedAt === undefined
            ? undefined
            : performance.now() - reportedAt,
        code,
        stderr,
      });
    });
  });
}

for (const engine of ['postgres', 'mysql'] as const) {
  describe.runIf(hasDatabase(engine))(`no token can be minted (${engine})`, () => {
    let emulator: Emulator;
    beforeAll(async () => {
      // No login gets as far as the upstream: without a token there is nothing to verify.
      const db = requireDatabase(engine);
      emulator = await startEmulator({
        engine,
        upstream: { host: db.host, port: db.port },
        endpoint: { host: DEFAULT_ENDPOINT_HOST },
        handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
      });
    });
    afterAll(async () => {
      await emulator?.stop();
    });

    test.concurrent.each(CASES.filter((c) => c.engine === engine).map((c) => [c.name, c]))(
      '%s: the query fails, end() resolves, and the process exits by itself',
      async (_name, c) => {
        const opened = emulator.counters().connectionsOpened;
        const run = await runChild(c.name, {
          RDS_IAM_CHILD_HOST: emulator.host,
          RDS_IAM_CHILD_PORT: String(emulator.port),
          RDS_IAM_CHILD_USER: 'app',
          RDS_IAM_CHILD_DATABASE: 'app',
          RDS_IAM_CHILD_SIGNING_HOST: emulator.endpoint.host,
          RDS_IAM_CHILD_SIGNING_PORT: String(emulator.endpoint.port),
          RDS_IAM_CHILD_REGION: emulator.region,
          RDS_IAM_CHILD_CA: emulator.caPem,
        });
        expect({ report: run.report, stderr: run.stderr }).toEqual({
          report: { failed: true, code: 'ERR_CREDENTIALS', ended: true },
          stderr: '',
        });
        expect(run.exitedAfterMs, `still running ${EXIT_BOUND_MS} ms after end()`).toBeDefined();
        expect(run.code).toBe(0);
        if (c.socketFirst) {
          // The case under test: the login had a socket, and it is closed.
          expect(emulator.counters().connectionsOpened).toBeGreaterThan(opened);
        }
        expect(emulator.counters().rejected).toBe(0);
      },
    );
  });
}
