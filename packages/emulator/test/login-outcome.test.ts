import { rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/command.js';
import {
  type EmulatorEngine,
  type EmulatorLogin,
  formatLogin,
  startEmulator,
} from '../src/index.js';
import { DEMO_CREDENTIALS } from '../src/verify.js';
import { clientFor, createRole, dropRole, PG_UPSTREAM, sdkToken, waitFor } from './helpers.js';

/*
 * The emulator's log tells the truth: one report per login, with its final outcome after the
 * upstream login (accepted and logged in upstream, or upstream's refusal as a reason of its own),
 * and a warning at start-up when upstream does not answer.
 */

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function attempt(
  engine: EmulatorEngine,
  emu: Awaited<ReturnType<typeof startEmulator>>,
  user: string,
) {
  const password = await sdkToken({ ...emu.endpoint, user, credentials: DEMO_CREDENTIALS });
  if (engine === 'postgres') {
    const c = clientFor(emu, user, password);
    c.on('error', () => undefined);
    await c.connect();
    await c.end();
    return;
  }
  const c = await mysql.createConnection({
    host: emu.host,
    port: emu.port,
    user,
    password,
    ssl: { ca: emu.caPem },
    authPlugins: { mysql_clear_password: () => () => Buffer.from(`${password}\0`) },
  });
  await c.end();
}

describe.each(['postgres', 'mysql'] as const)(
  '%s: the login report is the final outcome',
  (engine) => {
    let role: string | undefined;
    beforeAll(async () => {
      if (engine === 'postgres') role = await createRole('emuout');
    });
    afterAll(async () => {
      if (role) await dropRole(role);
    });

    it('an unreachable upstream: a start-up warning, and the login reported as upstream-unreachable', async () => {
      const port = await closedPort();
      const warnings: string[] = [];
      const logins: EmulatorLogin[] = [];
      const emu = await startEmulator({
        engine,
        upstream: `${engine}://127.0.0.1:${port}`,
        onWarning: (m) => warnings.push(m),
        onLogin: (l) => logins.push(l),
      });
      try {
        await waitFor(() => warnings.length > 0);
        expect(warnings).toEqual([
          `the upstream server 127.0.0.1:${port} does not answer (ECONNREFUSED): every login will fail (upstream-unreachable) until it does`,
        ]);
        await expect(attempt(engine, emu, 'app')).rejects.toThrow(/upstream server/);
        if (engine === 'mysql') {
          // MySQL greets with upstream's greeting: without one the client is refused before it
          // sends a token, so there is no login to report; the start-up warning is what tells.
          await new Promise((r) => setTimeout(r, 50));
          expect(logins).toEqual([]);
          return;
        }
        await waitFor(() => logins.length > 0);
        expect(logins).toHaveLength(1);
        expect(logins[0]).toMatchObject({
          accepted: false,
          user: 'app',
          reason: 'upstream-unreachable',
        });
        expect(emu.counters()).toMatchObject({
          accepted: 0,
          rejected: 1,
          rejectedByReason: { 'upstream-unreachable': 1 },
        });
        expect(formatLogin(logins[0] as EmulatorLogin)).toMatch(
          /login app: refused, upstream-unreachable \(/,
        );
      } finally {
        await emu.stop();
      }
    });

    it('with allowNonIamUsers, a user upstream refuses is reported as upstream-refused', async () => {
      const logins: EmulatorLogin[] = [];
      const emu = await startEmulator({
        engine,
        upstream:
          engine === 'postgres'
            ? `postgres://${PG_UPSTREAM.host}:${PG_UPSTREAM.port}`
            : 'mysql://127.0.0.1:3306',
        allowNonIamUsers: true,
        onLogin: (l) => logins.push(l),
      });
      try {
        await expect(attempt(engine, emu, 'emu_out_no_such_user')).rejects.toThrow();
        await waitFor(() => logins.length === 1);
        expect(logins[0]).toMatchObject({ accepted: false, reason: 'upstream-refused' });
      } finally {
        await emu.stop();
      }
    });

    it('a reachable upstream: no warning; accepted once upstream let the user in, refused when it did not', async () => {
      const warnings: string[] = [];
      const logins: EmulatorLogin[] = [];
      const emu = await startEmulator({
        engine,
        upstream:
          engine === 'postgres'
            ? `postgres://${PG_UPSTREAM.host}:${PG_UPSTREAM.port}`
            : 'mysql://127.0.0.1:3306',
        onWarning: (m) => warnings.push(m),
        onLogin: (l) => logins.push(l),
      });
      try {
        await attempt(engine, emu, engine === 'postgres' ? (role as string) : 'root');
        await expect(attempt(engine, emu, 'emu_out_no_such_user')).rejects.toThrow();
        await waitFor(() => logins.length === 2);
        // Strict by default: MySQL answers a missing user and a user with a password alike (1045),
        // and both are users RDS takes no token from, so the reason names the IAM user's set-up.
        expect(logins.map((l) => (l.accepted ? 'accepted' : l.reason))).toEqual([
          'accepted',
          engine === 'postgres' ? 'upstream-refused' : 'not-iam-user',
        ]);
        expect(emu.counters()).toMatchObject({ accepted: 1, rejected: 1, distinctTokens: 1 });
        await new Promise((r) => setTimeout(r, 50));
        expect(warnings).toEqual([]);
      } finally {
        await emu.stop();
      }
    });
  },
);

describe('rds-iam-emulator (bin): the start-up warning', () => {
  it('prints a warning line on stderr when the upstream server does not answer', async () => {
    const port = await closedPort();
    const err: string[] = [];
    const caFile = join(tmpdir(), `emu-warning-ca-${process.pid}.pem`);
    const run = await main(
      ['--engine', 'mysql', '--upstream', `mysql://127.0.0.1:${port}`, '--ca-file', caFile],
      { stdout: { write: () => true }, stderr: { write: (s: string) => err.push(s) } },
    );
    try {
      await waitFor(() => err.join('').includes('warning'));
      expect(err.join('')).toMatch(
        new RegExp(
          `^\\S+Z warning: the upstream server 127\\.0\\.0\\.1:${port} does not answer \\(ECONNREFUSED\\): every login will fail \\(upstream-unreachable\\) until it does\\n$`,
        ),
      );
    } finally {
      await run?.emulator.stop();
      rmSync(caFile, { force: true });
    }
  });
});
