import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGreeting, Capability, PacketReader, parseErrPacket } from '@rds-iam/wire';
import { afterAll, describe, expect, it } from 'vitest';
import {
  formatLogEntry,
  type ProxyLogEntry,
  resolveProxyOptions,
  startHealthServer,
  startLocalProxy,
} from '../src/index.js';

// The proxy's own rules, without a database: option checks, the socket file, the health endpoint,
// metrics and log lines. Logins end to end are in test/e2e/proxy-*.e2e.test.ts.

const HOST = 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com';
/** Never called: nothing in this file reaches a login. */
const sign = () => {
  throw new Error('no token expected');
};
const work = mkdtempSync(join(tmpdir(), 'rds-iam-proxy-unit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('resolveProxyOptions', () => {
  it('loopback by default, defaults for the timeouts', () => {
    expect(resolveProxyOptions({ engine: 'postgres', host: HOST, user: 'app' })).toEqual({
      engine: 'postgres',
      listen: { host: '127.0.0.1', port: 0 },
      localPassword: undefined,
      handshakeTimeoutMs: 10_000,
      connectTimeoutMs: 30_000,
      database: undefined,
    });
  });

  it('every loopback spelling is loopback; anything else needs the flag and a password', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
      expect(() =>
        resolveProxyOptions({ engine: 'mysql', host: HOST, user: 'app', listen: { host } }),
      ).not.toThrow();
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'example.com']) {
      expect(() =>
        resolveProxyOptions({ engine: 'mysql', host: HOST, user: 'app', listen: { host } }),
      ).toThrow(/allowNonLoopback/);
    }
    expect(
      resolveProxyOptions({
        engine: 'mysql',
        host: HOST,
        user: 'app',
        listen: { host: '0.0.0.0', port: 3307 },
        allowNonLoopback: true,
        localPassword: 'pw',
      }).listen,
    ).toEqual({ host: '0.0.0.0', port: 3307 });
  });

  it('bad timeouts and ports are refused with what to set', () => {
    expect(() =>
      resolveProxyOptions({ engine: 'postgres', host: HOST, user: 'app', connectTimeoutMs: 0 }),
    ).toThrow(/set `connectTimeoutMs` to a number of milliseconds above 0/);
    expect(() =>
      resolveProxyOptions({ engine: 'postgres', host: HOST, user: 'app', listen: { port: 70000 } }),
    ).toThrow(/set `listen.port` to 0-65535/);
  });
});

describe('startLocalProxy without a database', () => {
  it('a Unix socket is mode 0600, replaces a stale socket file, and is removed at close', async () => {
    const path = join(work, '.s.PGSQL.5432');
    // A socket file that nothing listens on, as a proxy killed with SIGKILL leaves it.
    const stale = net.createServer();
    await new Promise<void>((r) => stale.listen(path, r));
    (stale as unknown as { _handle: { close(): void } | null })._handle?.close();
    const proxy = await startLocalProxy({
      engine: 'postgres',
      host: HOST,
      user: 'app',
      sign,
      listen: { path },
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(proxy.url('shop')).toBe(`postgres://app@/shop?host=${encodeURIComponent(work)}`);
    await proxy.close();
    expect(() => statSync(path)).toThrow();
  });

  it('a regular file at the socket path is not replaced', async () => {
    const path = join(work, 'not-a-socket');
    writeFileSync(path, 'keep me');
    await expect(
      startLocalProxy({ engine: 'mysql', host: HOST, user: 'app', sign, listen: { path } }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(statSync(path).isFile()).toBe(true);
  });

  it('health, readiness and metrics; readiness drops when the proxy stops', async () => {
    const logs: ProxyLogEntry[] = [];
    const proxy = await startLocalProxy({
      engine: 'mysql',
      host: HOST,
      user: 'app',
      sign,
      onLog: (e) => logs.push(e),
    });
    const health = await startHealthServer({}, [proxy]);
    const base = `http://127.0.0.1:${health.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const label = `{target="app@${HOST}:3306",engine="mysql"}`;
    expect(metrics).toContain(`# TYPE rds_iam_proxy_connections_total counter`);
    expect(metrics).toContain(`rds_iam_proxy_connections_open${label} 0`);
    expect(metrics).toContain(
      `rds_iam_proxy_upstream_login_seconds_bucket{target="app@${HOST}:3306",engine="mysql",le="+Inf"} 0`,
    );
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    await proxy.close();
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    await health.close();
    expect(logs.map((e) => e.event)).toEqual(['listening', 'stopping', 'stopped']);
    const line = formatLogEntry(logs[0] as ProxyLogEntry);
    expect(line).toMatch(
      /^\d{4}-\d\d-\d\dT\S+ info {2}app@mydb\S+:3306: listening on 127\.0\.0\.1:\d+ for mysql$/,
    );
    expect(JSON.parse(formatLogEntry(logs[0] as ProxyLogEntry, true))).toMatchObject({
      level: 'info',
      event: 'listening',
    });
  });
});

describe('startLocalProxy in front of a server that is no fit MySQL upstream', () => {
  it('one without the 4.1 protocol / pluggable auth is refused before any token, as upstream-refused', async () => {
    // Greets with a MySQL 4.0-era capability set: a relay could not log in as RDS wants.
    const old = net.createServer((s) => {
      s.on('error', () => undefined);
      const greeting = buildGreeting({
        serverVersion: '4.0.27',
        connectionId: 7,
        scramble: Buffer.alloc(20, 1),
        capabilities: Capability.LONG_PASSWORD | Capability.CONNECT_WITH_DB,
        mariaDbCapabilities: 0,
        charset: 8,
        statusFlags: 2,
        authPlugin: 'mysql_native_password',
      });
      const header = Buffer.from([greeting.length & 0xff, greeting.length >> 8, 0, 0]);
      s.write(Buffer.concat([header, greeting]));
    });
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
    const proxy = await startLocalProxy({
      engine: 'mysql',
      host: '127.0.0.1',
      port: (old.address() as net.AddressInfo).port,
      user: 'app',
      ssl: false,
      sign,
    });
    try {
      const client = net.connect((proxy.address as { port: number }).port, '127.0.0.1');
      client.on('error', () => undefined);
      const { payload } = await new PacketReader(client, 1024).read(5_000);
      client.destroy();
      expect(parseErrPacket(payload).message).toMatch(
        /^rds-iam proxy: 127\.0\.0\.1:\d+ is too old \(no 4\.1 protocol \/ pluggable auth\)$/,
      );
      expect(proxy.counters().rejectionsByReason).toEqual({ 'upstream-refused': 1 });
    } finally {
      await proxy.close();
      await new Promise<void>((resolve) => old.close(() => resolve()));
    }
  });
});
