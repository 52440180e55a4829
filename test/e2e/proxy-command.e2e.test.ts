import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createIamUser,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';
import {
  assertNoToken,
  BIN,
  proxyFlags,
  run,
  startProxyCommand,
  targetUrl,
  toolEnv,
} from './proxy-support.js';

// `rds-iam proxy` as a user runs it: several targets in one process, JSON logs, the health endpoint,
// a stop on SIGTERM that lets an open session finish within the bound, and refusals at start-up.

describe.runIf(hasDatabase('postgres') && hasDatabase('mysql'))(
  'rds-iam proxy (the command)',
  () => {
    let pgIam: IamEndpoint;
    let myIam: IamEndpoint;
    let pgUser: IamUser;
    let myUser: IamUser;
    const work = mkdtempSync(join(tmpdir(), 'rds-iam-proxy-cmd-'));
    const env = (extra: NodeJS.ProcessEnv = {}) =>
      toolEnv({
        AWS_ACCESS_KEY_ID: pgIam.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: pgIam.credentials.secretAccessKey,
        ...extra,
      });
    beforeAll(async () => {
      pgIam = await startIamEndpoint('postgres');
      myIam = await startIamEndpoint('mysql');
      pgUser = await createIamUser('postgres', { database: true });
      myUser = await createIamUser('mysql', { database: true });
      writeFileSync(join(work, 'pg-ca.pem'), pgIam.ca);
      writeFileSync(join(work, 'my-ca.pem'), myIam.ca);
    });
    afterAll(async () => {
      await pgIam?.stop();
      await myIam?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    const target = (iam: IamEndpoint, user: IamUser, ca: string): string =>
      targetUrl(iam, user.user, user.database, join(work, ca));

    it('two targets, JSON logs, health and metrics; SIGTERM lets an open session finish', async () => {
      const proxy = await startProxyCommand(
        [
          '--target',
          target(pgIam, pgUser, 'pg-ca.pem'),
          '--target',
          target(myIam, myUser, 'my-ca.pem'),
          '--health',
          '127.0.0.1:0',
          '--json',
          '--shutdown-timeout',
          '5000',
        ],
        env(),
        3,
      );
      const [pgReady, myReady, health] = proxy.ready;
      expect(pgReady).toMatchObject({
        event: 'ready',
        engine: 'postgres',
        target: `${pgUser.user}@${pgIam.host}:${pgIam.port}`,
      });
      expect(myReady).toMatchObject({ event: 'ready', engine: 'mysql' });

      const pgClient = new pg.Client({ connectionString: pgReady?.url });
      await pgClient.connect();
      expect((await pgClient.query('SELECT current_user AS u')).rows[0]?.u).toBe(pgUser.user);
      const myClient = await mysql.createConnection(myReady?.url as string);
      const [rows] = await myClient.query<mysql.RowDataPacket[]>('SELECT current_user() AS u');
      expect(rows[0]?.u).toBe(`${myUser.user}@%`);
      await myClient.end();

      const get = async (path: string) => {
        const res = await fetch(`${health?.url}${path}`);
        return { status: res.status, text: await res.text() };
      };
      expect(await get('/healthz')).toEqual({ status: 200, text: 'ok\n' });
      expect((await get('/readyz')).status).toBe(200);
      const metrics = (await get('/metrics')).text;
      expect(metrics).toMatch(
        /^rds_iam_proxy_logins_total\{target="[^"]+",engine="postgres"\} 1$/m,
      );
      expect(metrics).toMatch(/^rds_iam_proxy_logins_total\{target="[^"]+",engine="mysql"\} 1$/m);
      expect(metrics).toMatch(
        /^rds_iam_proxy_connections_open\{target="[^"]+",engine="postgres"\} 1$/m,
      );
      expect(metrics).toMatch(/^rds_iam_proxy_tokens_minted_total\{[^}]+\} 1$/m);
      expect(metrics).toMatch(
        /^rds_iam_proxy_upstream_login_seconds_count\{[^}]+engine="mysql"\} 1$/m,
      );
      assertNoToken(metrics);

      // Stop while the PostgreSQL session is open: no new sessions, the open one may still work.
      proxy.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      expect((await pgClient.query('SELECT 1 AS one')).rows[0]?.one).toBe(1);
      await expect(
        new pg.Client({ connectionString: pgReady?.url, connectionTimeoutMillis: 2_000 }).connect(),
      ).rejects.toThrow();
      await pgClient.end();
      expect(await proxy.exited).toBe(0);

      const logs = proxy.stderr
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string });
      const events = logs.map((l) => l.event);
      for (const e of ['listening', 'login', 'closed', 'stopping', 'stopped'])
        expect(events).toContain(e);
      assertNoToken(proxy.stderr.join(''));
    });

    it('SIGTERM with a session that stays open: ended after --shutdown-timeout', async () => {
      const proxy = await startProxyCommand(
        [
          ...proxyFlags(pgIam, pgUser.user, join(work, 'pg-ca.pem')),
          '--database',
          pgUser.database as string,
          '--listen',
          '127.0.0.1:0',
          '--json',
          '--shutdown-timeout',
          '300',
        ],
        env(),
        1,
      );
      const client = new pg.Client({ connectionString: proxy.ready[0]?.url });
      client.on('error', () => undefined);
      await client.connect();
      const ended = new Promise<void>((r) => client.once('end', () => r()));
      proxy.child.kill('SIGTERM');
      expect(await proxy.exited).toBe(0);
      await ended;
      expect(proxy.stderr.join('')).toContain('1 session(s) still open after 300 ms were ended');
    });

    it('a listen address that is not loopback is refused at start-up without a local password', async () => {
      const flags = proxyFlags(pgIam, pgUser.user, join(work, 'pg-ca.pem'));
      const refused = await run(
        process.execPath,
        [BIN, 'proxy', ...flags, '--listen', '0.0.0.0:0'],
        env(),
      ).catch((e: { code?: number; stderr?: string }) => e);
      expect(refused).toMatchObject({ code: 2 });
      expect((refused as { stderr: string }).stderr).toMatch(
        /0\.0\.0\.0 would let anyone who reaches it log in/,
      );
      const noPassword = await run(
        process.execPath,
        [BIN, 'proxy', ...flags, '--listen', '0.0.0.0:0', '--allow-non-loopback'],
        env(),
      ).catch((e: { code?: number; stderr?: string }) => e);
      expect(noPassword).toMatchObject({ code: 2 });
      expect((noPassword as { stderr: string }).stderr).toMatch(
        /pass a `localPassword` \(--local-password-env\)/,
      );

      // With both, it starts, and a client must present the password.
      const proxy = await startProxyCommand(
        [
          ...flags,
          '--database',
          pgUser.database as string,
          '--listen',
          '0.0.0.0:0',
          '--allow-non-loopback',
          '--local-password-env',
          'PROXY_PASSWORD',
          '--json',
        ],
        env({ PROXY_PASSWORD: 'local secret' }),
        1,
      );
      const port = Number(/:(\d+)$/.exec(proxy.ready[0]?.listen ?? '')?.[1]);
      const wrong = new pg.Client({
        host: '127.0.0.1',
        port,
        database: pgUser.database,
        password: 'nope',
      });
      await expect(wrong.connect()).rejects.toMatchObject({ code: '28P01' });
      const right = new pg.Client({
        host: '127.0.0.1',
        port,
        database: pgUser.database,
        user: 'me',
        password: 'local secret',
      });
      await right.connect();
      expect((await right.query('SELECT current_user AS u')).rows[0]?.u).toBe(pgUser.user);
      await right.end();
      proxy.child.kill('SIGTERM');
      expect(await proxy.exited).toBe(0);
      expect(proxy.stderr.join('')).toContain('"reason":"local-password"');
      expect(proxy.stderr.join('')).not.toContain('local secret');
    });
  },
);
