import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createIamUser,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';
import { assertNoToken, BIN, run, startProxyCommand, targetUrl, toolEnv } from './proxy-support.js';

// `rds-iam doctor --target URL`: the proxy's target form checked step by step against the emulator
// standing in for RDS (a real server behind it, real TLS, tokens it verified), several at a time;
// and `rds-iam proxy --check`, which runs those checks before it listens.

interface Report {
  ok: boolean;
  engine: string;
  user: string;
  checks: Array<{ id: string; status: string; detail: string; fix?: string; causes?: string[] }>;
}

describe.runIf(hasDatabase('postgres') && hasDatabase('mysql'))(
  'rds-iam doctor --target (the proxy target form)',
  () => {
    let pgIam: IamEndpoint;
    let myIam: IamEndpoint;
    let pgUser: IamUser;
    let myUser: IamUser;
    const work = mkdtempSync(join(tmpdir(), 'rds-iam-doctor-target-'));
    const pgCa = join(work, 'pg-ca.pem');
    const myCa = join(work, 'my-ca.pem');
    const env = () =>
      toolEnv({
        AWS_ACCESS_KEY_ID: pgIam.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: pgIam.credentials.secretAccessKey,
      });
    /** Runs doctor; resolves with its exit code and one report per target. */
    const doctor = async (args: string[]) => {
      const r = await run(process.execPath, [BIN, 'doctor', ...args, '--json'], env()).then(
        (ok) => ({ code: 0, ...ok }),
        (err: { code: number; stdout: string; stderr: string }) => err,
      );
      assertNoToken(r.stdout + r.stderr);
      const reports = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Report);
      return { code: r.code, reports };
    };
    const passed = (report: Report | undefined) =>
      report?.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.detail}`);

    beforeAll(async () => {
      pgIam = await startIamEndpoint('postgres');
      myIam = await startIamEndpoint('mysql');
      pgUser = await createIamUser('postgres', { database: true });
      myUser = await createIamUser('mysql', { database: true });
      writeFileSync(pgCa, pgIam.ca);
      writeFileSync(myCa, myIam.ca);
    });
    afterAll(async () => {
      await pgIam?.stop();
      await myIam?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    it('two targets in the URL form the proxy takes: every check passes, one report each', async () => {
      const { code, reports } = await doctor([
        '--target',
        targetUrl(pgIam, pgUser.user, pgUser.database, pgCa),
        '--target',
        targetUrl(myIam, myUser.user, myUser.database, myCa),
        '--connect-timeout',
        '10000',
      ]);
      expect(code).toBe(0);
      expect(reports.map((r) => [r.engine, r.user, r.ok])).toEqual([
        ['postgres', pgUser.user, true],
        ['mysql', myUser.user, true],
      ]);
      for (const report of reports) expect(passed(report)).toEqual([]);
      const pgChecks = reports[0]?.checks ?? [];
      expect(pgChecks.find((c) => c.id === 'tls')?.detail).toMatch(
        new RegExp(`verified against --ca-file ${pgCa} for ${pgIam.endpoint.host}`),
      );
      expect(pgChecks.find((c) => c.id === 'login')?.status).toBe('pass');
    });

    it('a target the emulator refuses as RDS would: that report fails with the causes, the other passes', async () => {
      const notIam = await createIamUser('postgres', { iam: false });
      const { code, reports } = await doctor([
        '--target',
        targetUrl(myIam, myUser.user, myUser.database, myCa),
        '--target',
        targetUrl(pgIam, notIam.user, undefined, pgCa),
      ]);
      expect(code).toBe(1);
      expect(reports.map((r) => r.ok)).toEqual([true, false]);
      const login = reports[1]?.checks.find((c) => c.id === 'login');
      expect(login).toMatchObject({ status: 'fail' });
      // As on RDS: a user without the rds_iam grant is asked for its own password.
      expect(login?.detail).toMatch(/password authentication failed .*\(28P01\)/);
      expect(login?.fix).toMatch(/logs in with a password, not IAM: GRANT rds_iam TO/);
    });

    it('--ca-file and --region for every target, next to the URL: the same as in the URL', async () => {
      const url = new URL(targetUrl(pgIam, pgUser.user, pgUser.database, pgCa));
      url.searchParams.delete('ca-file');
      url.searchParams.delete('region');
      const { code, reports } = await doctor([
        '--target',
        url.toString(),
        '--ca-file',
        pgCa,
        '--region',
        pgIam.region,
      ]);
      expect(code).toBe(0);
      expect(passed(reports[0])).toEqual([]);
    });

    /** The JSON lines of a stream, by their `event`. */
    const events = (text: string, event: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Report & { event?: string })
        .filter((l) => l.event === event);

    it('proxy --check: every target passes doctor, then it listens and serves', async () => {
      const proxy = await startProxyCommand(
        [
          '--target',
          targetUrl(pgIam, pgUser.user, pgUser.database, pgCa),
          '--target',
          targetUrl(myIam, myUser.user, myUser.database, myCa),
          '--check',
          '--json',
        ],
        env(),
        2,
      );
      try {
        const checks = events(proxy.stderr.join(''), 'check');
        expect(checks.map((c) => [c.engine, c.user, c.ok])).toEqual([
          ['postgres', pgUser.user, true],
          ['mysql', myUser.user, true],
        ]);
        const client = new pg.Client({ connectionString: proxy.ready[0]?.url });
        await client.connect();
        expect((await client.query('SELECT current_user AS u')).rows[0]?.u).toBe(pgUser.user);
        await client.end();
      } finally {
        proxy.child.kill('SIGTERM');
      }
      expect(await proxy.exited).toBe(0);
      assertNoToken(proxy.stderr.join(''));
    });

    it("proxy --check: a target that cannot log in stops it at start-up with doctor's explanation", async () => {
      const notIam = await createIamUser('postgres', { iam: false });
      const refused = await run(
        process.execPath,
        [
          BIN,
          'proxy',
          ...['--target', targetUrl(myIam, myUser.user, myUser.database, myCa)],
          ...['--target', targetUrl(pgIam, notIam.user, undefined, pgCa)],
          '--check',
          '--json',
        ],
        env(),
      ).catch((err: { code: number; stdout: string; stderr: string }) => err);
      expect(refused).toMatchObject({ code: 1 });
      const { stdout, stderr } = refused as { stdout: string; stderr: string };
      // Nothing listened: no ready line, only the error.
      expect(
        stdout
          .trim()
          .split('\n')
          .map((l) => Object.keys(JSON.parse(l))),
      ).toEqual([['error']]);
      expect(JSON.parse(stdout).error).toMatchObject({
        code: 'ERR_CHECK_FAILED',
        message: `the check of ${notIam.user}@${pgIam.host}:${pgIam.port} failed (see above): not listening`,
      });
      const checks = events(stderr, 'check');
      expect(checks.map((c) => c.ok)).toEqual([true, false]);
      expect(checks[1]?.checks.find((c) => c.id === 'login')?.fix).toMatch(
        /logs in with a password, not IAM: GRANT rds_iam TO/,
      );
      expect(events(stderr, 'listening')).toEqual([]);
      assertNoToken(stdout + stderr);
    });
  },
);
