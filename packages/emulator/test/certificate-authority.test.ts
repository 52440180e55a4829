import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificateAuthority } from '../src/certificate.js';
import { main } from '../src/command.js';
import {
  type CertificateAuthorityPem,
  createCertificateAuthority,
  DEMO_CREDENTIALS,
  type Emulator,
  startEmulator,
} from '../src/index.js';
import { createRole, dropRole, PG_UPSTREAM, sdkToken } from './helpers.js';
import { createMysqlUser, dropMysqlUser, mysqlAvailable } from './mysql-context.js';

const UPSTREAM = `postgres://${PG_UPSTREAM.host}:${PG_UPSTREAM.port}`;
const mysqlUp = await mysqlAvailable();

/** Connects with pg to `emu`, trusting `ca` (and nothing else), and returns current_user. */
async function pgLogin(emu: Emulator, user: string, ca: string): Promise<string> {
  const password = await sdkToken({ ...emu.endpoint, user, credentials: DEMO_CREDENTIALS });
  const c = new pg.Client({
    host: emu.host,
    port: emu.port,
    user,
    database: 'test',
    password,
    ssl: { ca, servername: 'localhost' },
  });
  try {
    await c.connect();
    const r = await c.query<{ u: string }>('SELECT current_user AS u');
    return r.rows[0]?.u ?? '';
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The error a start with these options fails with. */
async function startError(certificateAuthority: CertificateAuthorityPem, port = 0): Promise<Error> {
  try {
    const emu = await startEmulator({
      engine: 'postgres',
      upstream: UPSTREAM,
      port,
      certificateAuthority,
    });
    await emu.stop();
  } catch (err) {
    return err as Error;
  }
  throw new Error('startEmulator() succeeded; expected a rejection');
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

describe('createCertificateAuthority with a given CA', () => {
  it('returns the CA key and issues a new server certificate from the same CA', async () => {
    const first = await createCertificateAuthority();
    expect(first.caKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const again = await createCertificateAuthority({
      hostnames: ['db.example.com'],
      certificateAuthority: { certPem: first.caPem, keyPem: first.caKeyPem },
    });
    expect(again.caPem).toBe(first.caPem);
    expect(again.caKeyPem).toBe(first.caKeyPem);
    expect(again.certPem).not.toBe(first.certPem);
    expect(again.keyPem).not.toBe(first.keyPem);
    const ca = new X509Certificate(first.caPem);
    const leaf = new X509Certificate(again.certPem);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.issuer).toBe(ca.subject);
    expect(leaf.checkHost('db.example.com')).toBe('db.example.com');
  });

  it('keeps the server certificate within the validity of the CA', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const ca = selfSignedCertificateAuthority(pair, { days: 30 });
    const issued = await createCertificateAuthority({ certificateAuthority: ca });
    const leaf = new X509Certificate(issued.certPem);
    expect(leaf.validTo).toBe(new X509Certificate(ca.certPem).validTo);
  });
});

describe('startEmulator: certificateAuthority across a restart', () => {
  let role: string;
  beforeAll(async () => {
    role = await createRole('emuca');
  });
  afterAll(async () => {
    await dropRole(role);
  });

  it('a pg client trusting the first caPem connects through a restart given the old CA', async () => {
    const first = await startEmulator({ engine: 'postgres', upstream: UPSTREAM });
    const trusted = first.caPem;
    const ca = first.certificateAuthority;
    try {
      expect(ca.certPem).toBe(first.caPem);
      expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      expect(await pgLogin(first, role, trusted)).toBe(role);
    } finally {
      await first.stop();
    }
    const second = await startEmulator({
      engine: 'postgres',
      upstream: UPSTREAM,
      port: first.port,
      certificateAuthority: ca,
    });
    try {
      expect(second.port).toBe(first.port);
      expect(second.caPem).toBe(trusted);
      expect(second.certificateAuthority).toEqual(ca);
      expect(await pgLogin(second, role, trusted)).toBe(role);
      expect(second.counters()).toMatchObject({ accepted: 1, rejected: 0 });
    } finally {
      await second.stop();
    }
  });

  it('without the option a restart has a new CA, which a client trusting the old one refuses', async () => {
    const first = await startEmulator({ engine: 'postgres', upstream: UPSTREAM });
    await first.stop();
    const second = await startEmulator({
      engine: 'postgres',
      upstream: UPSTREAM,
      port: first.port,
    });
    try {
      expect(second.caPem).toMatch(/BEGIN CERTIFICATE/);
      expect(second.caPem).not.toBe(first.caPem);
      expect(second.certificateAuthority.keyPem).not.toBe(first.certificateAuthority.keyPem);
      await expect(pgLogin(second, role, first.caPem)).rejects.toMatchObject({
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
      expect(await pgLogin(second, role, second.caPem)).toBe(role);
      expect(second.counters()).toMatchObject({ accepted: 1, rejected: 0 });
    } finally {
      await second.stop();
    }
  });

  it.each([
    ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ECDSA P-384', () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' })],
    ['Ed25519', () => generateKeyPairSync('ed25519')],
  ])('a CA with a %s key of its own: pg verifies the chain', async (_, pair) => {
    const ca = selfSignedCertificateAuthority(pair());
    const emu = await startEmulator({
      engine: 'postgres',
      upstream: UPSTREAM,
      certificateAuthority: ca,
    });
    try {
      expect(emu.caPem).toBe(ca.certPem);
      expect(await pgLogin(emu, role, ca.certPem)).toBe(role);
    } finally {
      await emu.stop();
    }
  });

  it('validates the option before it listens, with a TypeError that quotes no PEM', async () => {
    const good = await createCertificateAuthority();
    const other = await createCertificateAuthority();
    const expired = selfSignedCertificateAuthority(
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
      { now: Date.now() - 400 * 24 * 3_600_000 },
    );
    const encrypted = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      .privateKey.export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'secret',
      })
      .toString();
    const ed448 = generateKeyPairSync('ed448')
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const cases: [CertificateAuthorityPem, RegExp][] = [
      [{ certPem: good.caPem } as CertificateAuthorityPem, /needs certPem and keyPem/],
      [null as unknown as CertificateAuthorityPem, /needs certPem and keyPem/],
      [{ certPem: '', keyPem: good.caKeyPem }, /needs certPem and keyPem/],
      [{ certPem: 'garbage', keyPem: good.caKeyPem }, /certPem is not a PEM certificate/],
      [{ certPem: good.caPem, keyPem: 'garbage' }, /keyPem is not an unencrypted PEM private key/],
      [{ certPem: good.caPem, keyPem: encrypted }, /keyPem is not an unencrypted PEM private key/],
      [{ certPem: good.caPem, keyPem: other.caKeyPem }, /keyPem does not match/],
      [{ certPem: good.certPem, keyPem: good.keyPem }, /is not a CA certificate/],
      [expired, /certPem expired on/],
      [{ certPem: good.caPem, keyPem: ed448 }, /ed448 key; use an EC, RSA or Ed25519 key/],
    ];
    const port = await freePort();
    for (const [ca, message] of cases) {
      const err = await startError(ca, port);
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toMatch(/^certificateAuthority/);
      expect(err.message).toMatch(message);
      expect(err.message).not.toMatch(/BEGIN|END|MII/);
    }
    // Nothing listened on the port meanwhile.
    await expect(
      new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe.skipIf(!mysqlUp)('startEmulator: certificateAuthority across a restart (MySQL)', () => {
  let user: string;
  beforeAll(async () => {
    user = await createMysqlUser('u_emuca');
  });
  afterAll(async () => {
    if (user) await dropMysqlUser(user);
  });

  async function mysqlLogin(emu: Emulator, ca: string): Promise<string> {
    const token = await sdkToken({ ...emu.endpoint, user, credentials: DEMO_CREDENTIALS });
    const c = await mysql.createConnection({
      host: emu.host,
      port: emu.port,
      user,
      database: 'test',
      ssl: { ca },
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
    });
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
      return String(rows[0]?.u);
    } finally {
      await c.end();
    }
  }

  it('a mysql2 client trusting the first caPem connects through a restart given the old CA', async () => {
    const upstream = 'mysql://127.0.0.1:3306';
    const first = await startEmulator({ engine: 'mysql', upstream });
    try {
      expect(await mysqlLogin(first, first.caPem)).toBe(`${user}@%`);
    } finally {
      await first.stop();
    }
    const second = await startEmulator({
      engine: 'mysql',
      upstream,
      port: first.port,
      certificateAuthority: first.certificateAuthority,
    });
    try {
      expect(second.caPem).toBe(first.caPem);
      expect(await mysqlLogin(second, first.caPem)).toBe(`${user}@%`);
    } finally {
      await second.stop();
    }
  });
});

describe('rds-iam-emulator --ca-key-file', () => {
  const silent = {
    stdout: { write: (_: string) => true },
    stderr: { write: (_: string) => true },
  };
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'emu-ca-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the CA key on the first run and issues from the same CA on the next', async () => {
    const caFile = join(dir, 'ca.pem');
    const keyFile = join(dir, 'ca.key');
    const argv = ['--engine', 'postgres', '--ca-file', caFile, '--ca-key-file', keyFile];
    const out: string[] = [];
    const run1 = await main(argv, { ...silent, stdout: { write: (s: string) => out.push(s) } });
    expect(run1).toBeDefined();
    await run1?.emulator.stop();
    expect(readFileSync(caFile, 'utf8')).toBe(run1?.emulator.caPem);
    expect(readFileSync(keyFile, 'utf8')).toBe(run1?.emulator.certificateAuthority.keyPem);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(out.join('')).toContain(`CA key     ${keyFile} (new; test-only secret)`);
    expect(out.join('')).not.toContain('PRIVATE KEY');

    const out2: string[] = [];
    const run2 = await main(argv, { ...silent, stdout: { write: (s: string) => out2.push(s) } });
    try {
      expect(run2?.emulator.caPem).toBe(run1?.emulator.caPem);
      expect(out2.join('')).toContain('(reused; test-only secret)');
    } finally {
      await run2?.emulator.stop();
    }
  });

  it('needs --ca-file, and refuses a key that does not match', async () => {
    const saved = process.exitCode;
    try {
      const err: string[] = [];
      const io = { ...silent, stderr: { write: (s: string) => err.push(s) } };
      expect(await main(['--ca-key-file', join(dir, 'k.pem')], io)).toBeUndefined();
      expect(err.join('')).toMatch(/--ca-key-file needs --ca-file/);
      expect(process.exitCode).toBe(2);

      const a = await createCertificateAuthority();
      const b = await createCertificateAuthority();
      const caFile = join(dir, 'a.pem');
      const keyFile = join(dir, 'b.key');
      writeFileSync(caFile, a.caPem);
      writeFileSync(keyFile, b.caKeyPem);
      expect(await main(['--ca-file', caFile, '--ca-key-file', keyFile], io)).toBeUndefined();
      expect(err.join('')).toMatch(/keyPem does not match/);
      expect(process.exitCode).toBe(1);
      expect(existsSync(keyFile)).toBe(true);
      expect(readFileSync(keyFile, 'utf8')).toBe(b.caKeyPem);
    } finally {
      process.exitCode = saved;
    }
  });
});
