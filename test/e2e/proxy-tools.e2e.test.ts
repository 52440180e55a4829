import { mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
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
import { assertNoToken, type ProxyUnderTest, proxyFor, run } from './proxy-support.js';

// What users run through `rds-iam proxy`: the command-line tools and plain driver configs with no
// token and no TLS of their own, against the emulator (which verifies each token as RDS does) and
// the real servers behind it.

describe.runIf(hasDatabase('postgres'))('proxy: PostgreSQL tools', () => {
  let iam: IamEndpoint;
  let app: IamUser;
  let p: ProxyUnderTest;
  const work = mkdtempSync(join(tmpdir(), 'rds-iam-proxy-pg-'));
  beforeAll(async () => {
    iam = await startIamEndpoint('postgres');
    app = await createIamUser('postgres', { database: true });
    p = await proxyFor(iam, app.user, { database: app.database });
  });
  afterAll(async () => {
    await p?.proxy.close();
    await iam?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('node-postgres with a plain, password-less config logs in as the IAM user', async () => {
    const { port } = p.proxy.address as { port: number };
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'anyone',
      database: app.database,
    });
    await client.connect();
    const { rows } = await client.query<{ user: string; ssl: boolean }>(
      'SELECT current_user AS user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    await client.end();
    // The emulator ends TLS and relays plaintext to the local server; the proxy's own hop was TLS.
    expect(rows[0]?.user).toBe(app.user);
    expect(iam.emulator.counters().accepted).toBeGreaterThanOrEqual(1);
  });

  it('psql and pg_dump through the proxy; one token serves every login', async () => {
    const url = p.proxy.url();
    await run('psql', [
      url,
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      'CREATE TABLE proxied (id int PRIMARY KEY, note text)',
    ]);
    await run('psql', [url, '-c', "INSERT INTO proxied VALUES (1, 'through the proxy')"]);
    const dump = await run('pg_dump', ['--data-only', '--table', 'proxied', url]);
    expect(dump.stdout).toContain('through the proxy');
    const who = await run('psql', [url, '-At', '-c', 'SELECT current_user']);
    expect(who.stdout.trim()).toBe(app.user);
    // The cache: four processes, four logins upstream, one token minted.
    expect(p.proxy.counters()).toMatchObject({ tokensMinted: 1 });
    expect(p.proxy.counters().logins).toBeGreaterThanOrEqual(4);
  });

  it('a Unix socket of mode 0600 in a private directory: psql -h DIR finds it', async () => {
    const dir = join(work, 'sock');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { mode: 0o700 });
    const path = join(dir, '.s.PGSQL.5432');
    const unix = await proxyFor(iam, app.user, { database: app.database, listen: { path } });
    try {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const who = await run('psql', [
        '-h',
        dir,
        '-p',
        '5432',
        '-U',
        'x',
        '-d',
        app.database as string,
        '-At',
        '-c',
        'SELECT current_user',
      ]);
      expect(who.stdout.trim()).toBe(app.user);
      expect(unix.proxy.url()).toBe(
        `postgres://${app.user}@/${app.database}?host=${encodeURIComponent(dir)}`,
      );
    } finally {
      await unix.proxy.close();
    }
    expect(() => statSync(path)).toThrow();
  });

  it('a CancelRequest reaches the upstream session through the proxy', async () => {
    const { port } = p.proxy.address as { port: number };
    const client = new pg.Client({ host: '127.0.0.1', port, database: app.database });
    await client.connect();
    const slow = client.query('SELECT pg_sleep(20)');
    await new Promise((r) => setTimeout(r, 300));
    // The key the client holds is upstream's BackendKeyData, relayed: the proxy passes it on.
    const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
    const cancel = Buffer.alloc(16);
    cancel.writeInt32BE(16, 0);
    cancel.writeInt32BE(80877102, 4);
    cancel.writeInt32BE(processID, 8);
    cancel.writeInt32BE(secretKey, 12);
    const started = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => socket.on('connect', () => socket.end(cancel, resolve)));
    await expect(slow).rejects.toMatchObject({ code: '57014' });
    expect(Date.now() - started).toBeLessThan(10_000);
    await client.end();
  });

  it('no token in any log line', () => {
    expect(p.logs.length).toBeGreaterThan(0);
    assertNoToken(JSON.stringify(p.logs));
  });
});

describe.runIf(hasDatabase('mysql'))('proxy: MySQL / MariaDB tools', () => {
  let iam: IamEndpoint;
  let app: IamUser;
  let p: ProxyUnderTest;
  beforeAll(async () => {
    iam = await startIamEndpoint('mysql');
    app = await createIamUser('mysql', { database: true });
    p = await proxyFor(iam, app.user, { database: app.database });
  });
  afterAll(async () => {
    await p?.proxy.close();
    await iam?.stop();
  });

  it('mysql2 with a plain, password-less config logs in as the IAM user', async () => {
    const { port } = p.proxy.address as { port: number };
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port,
      user: 'anyone',
      database: app.database,
    });
    const [rows] = await c.query<mysql.RowDataPacket[]>(
      'SELECT current_user() AS u, database() AS d',
    );
    await c.end();
    expect(rows[0]?.u).toBe(`${app.user}@%`);
    expect(rows[0]?.d).toBe(app.database);
  });

  it('the mariadb client and mysqldump through the proxy', async () => {
    const { port } = p.proxy.address as { port: number };
    const base = ['-h', '127.0.0.1', '-P', String(port), '-u', app.user];
    await run('mariadb', [
      ...base,
      app.database as string,
      '-e',
      "CREATE TABLE proxied (id int PRIMARY KEY, note text); INSERT INTO proxied VALUES (1, 'through the proxy')",
    ]);
    const dump = await run('mysqldump', [...base, app.database as string, 'proxied']);
    expect(dump.stdout).toContain('through the proxy');
    const who = await run('mariadb', [...base, '-N', '-e', 'SELECT current_user()']);
    expect(who.stdout.trim()).toBe(`${app.user}@%`);
    expect(p.proxy.counters().tokensMinted).toBe(1);
  });

  it('no token in any log line', () => {
    assertNoToken(JSON.stringify(p.logs));
  });
});
