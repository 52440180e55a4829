import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/command.js';
import {
  createCertificateAuthority,
  DEMO_CREDENTIALS,
  parseUpstream,
  startEmulator,
} from '../src/index.js';
import { createRole, dropRole, PG_UPSTREAM, sdkToken } from './helpers.js';

const UPSTREAM = `postgres://${PG_UPSTREAM.host}:${PG_UPSTREAM.port}`;

describe('parseUpstream', () => {
  it('URL forms', () => {
    expect(parseUpstream('postgres', 'postgres://127.0.0.1:5433')).toEqual({
      host: '127.0.0.1',
      port: 5433,
      auth: { kind: 'trust' },
    });
    expect(parseUpstream('postgres', 'postgresql://db.local')).toMatchObject({ port: 5432 });
    expect(parseUpstream('mysql', 'mysql://root@127.0.0.1')).toEqual({
      host: '127.0.0.1',
      port: 3306,
      auth: { kind: 'trust' },
      user: 'root',
    });
    expect(parseUpstream('mysql', 'mariadb://u:p%40ss@[::1]:3307')).toEqual({
      host: '::1',
      port: 3307,
      auth: { kind: 'password', password: 'p@ss' },
      user: 'u',
    });
  });

  it('object form and errors', () => {
    expect(parseUpstream('postgres', { host: 'h', port: 1 })).toEqual({
      host: 'h',
      port: 1,
      auth: { kind: 'trust' },
    });
    expect(() => parseUpstream('postgres', 'mysql://127.0.0.1:3306')).toThrow(
      /does not match engine/,
    );
    expect(() => parseUpstream('postgres', 'not a url')).toThrow(/not a URL/);
    expect(() => parseUpstream('postgres', { host: '', port: 5432 })).toThrow(/host and a port/);
  });
});

describe('createCertificateAuthority', () => {
  it('a CA and a server certificate for localhost, loopback IPs and extra names', async () => {
    const { X509Certificate } = await import('node:crypto');
    const ca = await createCertificateAuthority({ hostnames: ['db.example.com', '10.0.0.1'] });
    const caCert = new X509Certificate(ca.caPem);
    const leaf = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.checkHost('db.example.com')).toBe('db.example.com');
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.checkIP('::1')).toBe('::1');
    expect(leaf.checkIP('10.0.0.1')).toBe('10.0.0.1');
    expect(leaf.checkHost('other.example.com')).toBeUndefined();
    const from = Date.parse(leaf.validFrom);
    const to = Date.parse(leaf.validTo);
    expect(Math.abs(from - (Date.now() - 3_600_000))).toBeLessThan(120_000);
    expect(to - from).toBeGreaterThan(365 * 24 * 3_600_000);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });
});

describe('startEmulator', () => {
  let role: string;
  beforeAll(async () => {
    role = await createRole('emustart');
  });
  afterAll(async () => {
    await dropRole(role);
  });

  it('validates its options', async () => {
    await expect(
      startEmulator({ engine: 'oracle' as 'postgres', upstream: UPSTREAM }),
    ).rejects.toThrow(/engine must be/);
    await expect(startEmulator({ engine: 'postgres', upstream: 'mysql://x:1' })).rejects.toThrow(
      /does not match engine/,
    );
  });

  it('fails to start on a port in use', async () => {
    const emu = await startEmulator({ engine: 'postgres', upstream: UPSTREAM });
    try {
      await expect(
        startEmulator({ engine: 'postgres', upstream: UPSTREAM, port: emu.port }),
      ).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await emu.stop();
    }
  });

  it('handle fields, url(), counters, stop() twice', async () => {
    const emu = await startEmulator({
      engine: 'postgres',
      upstream: UPSTREAM,
      region: 'ap-south-2',
    });
    expect(emu).toMatchObject({
      engine: 'postgres',
      host: '127.0.0.1',
      region: 'ap-south-2',
      endpoint: { host: '127.0.0.1', port: emu.port },
    });
    expect(emu.port).toBeGreaterThan(0);
    expect(emu.caPem).toMatch(/BEGIN CERTIFICATE/);
    expect(emu.url('a b')).toBe(`postgres://a%20b@127.0.0.1:${emu.port}`);
    expect(emu.counters()).toEqual({
      accepted: 0,
      rejected: 0,
      rejectedByReason: {},
      connectionsOpened: 0,
      connectionsActive: 0,
      distinctTokens: 0,
    });
    await Promise.all([emu.stop(), emu.stop()]);
    await emu.stop();
    await expect(
      new Promise((resolve, reject) => {
        const s = net.connect(emu.port, '127.0.0.1', () => resolve(s));
        s.on('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });

  it('IPv6 loopback listener with tokens signed for ::1', async () => {
    const emu = await startEmulator({ engine: 'postgres', upstream: UPSTREAM, host: '::1' });
    try {
      expect(emu.url(role, 'test')).toBe(`postgres://${role}@[::1]:${emu.port}/test`);
      const password = await sdkToken({
        host: '::1',
        port: emu.port,
        user: role,
        credentials: DEMO_CREDENTIALS,
      });
      const c = new pg.Client({
        host: '::1',
        port: emu.port,
        user: role,
        database: 'test',
        password,
        ssl: { ca: emu.caPem },
      });
      await c.connect();
      await c.end();
      expect(emu.counters().accepted).toBe(1);
    } finally {
      await emu.stop();
    }
  });

  it('a fixed port, an endpoint port of its own, extra hostnames and a clock offset at start', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const emu = await startEmulator({
      engine: 'postgres',
      upstream: UPSTREAM,
      port,
      endpoint: { host: 'proxy.proxy-abc.us-east-1.rds.amazonaws.com', port: 5432 },
      hostnames: ['alias.internal'],
      clockOffsetMs: 20 * 60_000,
    });
    try {
      expect(emu.port).toBe(port);
      const password = await sdkToken({
        ...emu.endpoint,
        user: role,
        credentials: DEMO_CREDENTIALS,
      });
      const c = new pg.Client({
        host: '127.0.0.1',
        port,
        user: role,
        database: 'test',
        password,
        ssl: { ca: emu.caPem, servername: 'alias.internal' },
      });
      await expect(c.connect()).rejects.toMatchObject({ code: '28P01' });
      await c.end().catch(() => undefined);
      expect(emu.counters().rejectedByReason).toEqual({ expired: 1 });
      emu.setClockOffset(0);
      const ok = new pg.Client({
        host: '127.0.0.1',
        port,
        user: role,
        database: 'test',
        password,
        ssl: { ca: emu.caPem, servername: 'alias.internal' },
      });
      await ok.connect();
      await ok.end();
    } finally {
      await emu.stop();
    }
  });

  it('starts the mysql engine too', async () => {
    const emu = await startEmulator({ engine: 'mysql', upstream: 'mysql://127.0.0.1:3306' });
    expect(emu.engine).toBe('mysql');
    expect(emu.url('root', 'test')).toBe(`mysql://root@127.0.0.1:${emu.port}/test`);
    await emu.stop();
  });
});

describe('rds-iam-emulator (bin)', () => {
  function io() {
    const out: string[] = [];
    const err: string[] = [];
    return {
      io: {
        stdout: { write: (s: string) => out.push(s) },
        stderr: { write: (s: string) => err.push(s) },
      },
      out: () => out.join(''),
      err: () => err.join(''),
    };
  }

  it('starts, writes the CA file, prints endpoint and demo credentials', async () => {
    const caFile = join(tmpdir(), `emu-test-ca-${process.pid}.pem`);
    const o = io();
    const run = await main(
      [
        '--engine',
        'postgres',
        '--upstream',
        'postgres://app:hunter2@127.0.0.1:5432',
        '--endpoint',
        'mydb.example.com:5432',
        '--region',
        'eu-central-1',
        '--ca-file',
        caFile,
      ],
      o.io,
    );
    try {
      expect(run).toBeDefined();
      expect(run?.caFile).toBe(caFile);
      expect(readFileSync(caFile, 'utf8')).toBe(run?.emulator.caPem);
      const text = o.out();
      expect(text).toContain(`listening on 127.0.0.1:${run?.emulator.port}`);
      expect(text).toContain('mydb.example.com:5432 in eu-central-1');
      expect(text).toContain(`AWS_ACCESS_KEY_ID=${DEMO_CREDENTIALS.accessKeyId}`);
      expect(text).toContain(`AWS_SECRET_ACCESS_KEY=${DEMO_CREDENTIALS.secretAccessKey}`);
      expect(text).toContain('postgres://app:***@127.0.0.1:5432');
      expect(text).not.toContain('hunter2');
    } finally {
      await run?.emulator.stop();
      rmSync(caFile, { force: true });
    }
  });

  it('help and usage errors', async () => {
    const saved = process.exitCode;
    try {
      const h = io();
      expect(await main(['--help'], h.io)).toBeUndefined();
      expect(h.out()).toContain('Usage: rds-iam-emulator');
      const bad = io();
      expect(await main(['--bogus'], bad.io)).toBeUndefined();
      expect(bad.err()).toMatch(/bogus/);
      expect(process.exitCode).toBe(2);
      const engine = io();
      expect(await main(['--engine', 'oracle'], engine.io)).toBeUndefined();
      expect(engine.err()).toMatch(/--engine must be postgres or mysql/);
      const port = io();
      expect(await main(['--port', '99999'], port.io)).toBeUndefined();
      expect(port.err()).toMatch(/--port/);
    } finally {
      process.exitCode = saved;
    }
  });
});
