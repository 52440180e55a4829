import { execFile, execFileSync } from 'node:child_process';
import {
  createHash,
  constants as cryptoConstants,
  generateKeyPairSync,
  privateDecrypt,
  randomBytes,
} from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildGreeting,
  Capability,
  cachingSha2Auth,
  frame,
  type HandshakeResponse,
  PacketReader,
  parseAuthSwitch,
  parseErrPacket,
  parseGreeting,
  parseHandshakeResponse,
} from '@rds-iam/wire';
import mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator.js';
import type { Emulator } from '../src/options.js';
import { DEMO_CREDENTIALS } from '../src/verify.js';
import { sdkToken, waitFor } from './helpers.js';
import {
  createMysqlUser,
  dropMysqlUser,
  MYSQL_UPSTREAM,
  type MysqlFrontEnd,
  mysql2Options,
  mysqlAvailable,
  RawMysqlClient,
  startMysqlFrontEnd,
} from './mysql-context.js';

const available = await mysqlAvailable();
const hasMysqlCli = (() => {
  try {
    execFileSync('mysql', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!available && process.env.CI === 'true')
  throw new Error('no MySQL/MariaDB on 127.0.0.1:3306 under CI');

describe.skipIf(!available)('MySQL front end against the local MariaDB', () => {
  let fe: MysqlFrontEnd;
  let user: string;

  beforeAll(async () => {
    fe = await startMysqlFrontEnd();
    user = await createMysqlUser();
  });
  afterAll(async () => {
    await fe?.close();
    if (user) await dropMysqlUser(user);
  });

  const connect = async (
    extra: mysql.ConnectionOptions = {},
    as = user,
  ): Promise<mysql.Connection> =>
    mysql.createConnection(mysql2Options(fe, as, await fe.token(as), extra));

  it('mysql2: logs in over verified TLS as the same user, on the real session', async () => {
    const before = fe.logins.length;
    const c = await connect();
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>(
        'SELECT CURRENT_USER() AS u, CONNECTION_ID() AS id, DATABASE() AS db, VERSION() AS v, @@character_set_client AS cs',
      );
      const row = rows[0];
      expect(row?.u).toBe(`${user}@%`);
      expect(row?.db).toBe('test');
      // The greeting carried upstream's connection id: KILL QUERY <threadId> hits the real session.
      expect(row?.id).toBe(c.threadId);
      expect(String(row?.v)).toMatch(/MariaDB/i);
      expect(row?.cs).toBe('utf8mb4');
    } finally {
      await c.end();
    }
    expect(fe.logins.slice(before)).toEqual([
      { ok: true, user, accessKeyId: 'AKIAEMULATORDEMO0001' },
    ]);
  });

  it('mysql2: a transaction commits and rolls back through the relay', async () => {
    const table = `t_${randomBytes(4).toString('hex')}`;
    const c = await connect();
    try {
      await c.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB`);
      await c.beginTransaction();
      await c.query(`INSERT INTO ${table} VALUES (1, 'rolled back')`);
      await c.rollback();
      await c.beginTransaction();
      await c.query(`INSERT INTO ${table} VALUES (2, 'kept')`);
      await c.commit();
      const [rows] = await c.query<mysql.RowDataPacket[]>(`SELECT id, v FROM ${table} ORDER BY id`);
      expect(rows.map((r) => ({ ...r }))).toEqual([{ id: 2, v: 'kept' }]);
    } finally {
      await c.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await c.end();
    }
  });

  it('mysql2: 10 MB each way (result and parameter)', async () => {
    const c = await connect();
    try {
      const size = 10 * 1024 * 1024;
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT REPEAT(?, ?) AS big', [
        'x',
        size,
      ]);
      const big = rows[0]?.big;
      expect(typeof big === 'string' ? big.length : Buffer.isBuffer(big) ? big.length : -1).toBe(
        size,
      );
      const blob = randomBytes(size);
      // Binary protocol: the 10 MB travel as raw bytes in one COM_STMT_EXECUTE (under the 16 MB
      // max_allowed_packet; the text protocol would hex-escape them to 20 MB).
      await c.execute('SET @blob = ?', [blob]);
      const [echo] = await c.query<mysql.RowDataPacket[]>(
        'SELECT LENGTH(@blob) AS n, MD5(@blob) AS h',
      );
      expect(echo[0]?.n).toBe(size);
      expect(echo[0]?.h).toBe(createHash('md5').update(blob).digest('hex'));
      // Many rows too: 20 000 rows of 512 bytes, streamed through as one result set.
      const [many] = await c.query<mysql.RowDataPacket[]>(
        'SELECT seq, REPEAT(CHAR(65 + seq % 26 USING ascii), 512) AS pad FROM seq_1_to_20000',
      );
      expect(many.length).toBe(20_000);
      expect(many[19_999]?.pad).toBe('G'.repeat(512)); // 20000 % 26 = 6;
    } finally {
      await c.end();
    }
  });

  it('mysql2: prepared statements (execute) with parameters, reused', async () => {
    const c = await connect();
    try {
      for (let i = 0; i < 3; i++) {
        const [rows] = await c.execute<mysql.RowDataPacket[]>(
          'SELECT ? + 1 AS n, CONCAT(?, ?) AS s, ? AS d',
          [i, 'a', String(i), new Date('2024-01-02T03:04:05Z')],
        );
        expect(rows[0]?.n).toBe(i + 1);
        expect(rows[0]?.s).toBe(`a${i}`);
        expect(rows[0]?.d).toBeInstanceOf(Date);
      }
    } finally {
      await c.end();
    }
  });

  it('mysql2: compression requested falls back to plain, multi-statements pass through', async () => {
    const c = await connect({ compress: true, multipleStatements: true });
    try {
      const [results] = await c.query<mysql.RowDataPacket[][]>('SELECT 1 AS a; SELECT 2 AS b');
      expect(results[0]?.[0]?.a).toBe(1);
      expect(results[1]?.[0]?.b).toBe(2);
    } finally {
      await c.end();
    }
  });

  it('50 concurrent connections, each its own verified login and upstream session', async () => {
    const before = fe.logins.length;
    const conns = await Promise.all(Array.from({ length: 50 }, () => connect()));
    try {
      const ids = await Promise.all(
        conns.map(async (c) => {
          const [rows] = await c.query<mysql.RowDataPacket[]>(
            'SELECT CONNECTION_ID() AS id, SLEEP(0.05) AS s',
          );
          return Number(rows[0]?.id);
        }),
      );
      expect(new Set(ids).size).toBe(50);
    } finally {
      await Promise.all(conns.map((c) => c.end()));
    }
    const logins = fe.logins.slice(before);
    expect(logins).toHaveLength(50);
    expect(logins.every((l) => l.ok)).toBe(true);
  });

  it('mariadb connector: round trip with the token as password over verified TLS', async () => {
    const conn = await mariadb.createConnection({
      host: fe.host,
      port: fe.port,
      user,
      password: await fe.token(user),
      database: 'test',
      ssl: { ca: fe.caPem },
    });
    try {
      const rows: Array<{ u: string; n: number }> = await conn.query(
        'SELECT CURRENT_USER() AS u, ? + 1 AS n',
        [41],
      );
      expect(rows[0]).toMatchObject({ u: `${user}@%`, n: 42 });
      const prepared: Array<{ s: string }> = await conn.execute('SELECT CONCAT(?, ?) AS s', [
        'x',
        'y',
      ]);
      expect(prepared[0]?.s).toBe('xy');
      expect(conn.info?.isMariaDB()).toBe(true);
    } finally {
      await conn.end();
    }
  });

  it('mariadb connector: a rejected token reads 1045 Access denied', async () => {
    const err = await mariadb
      .createConnection({
        host: fe.host,
        port: fe.port,
        user,
        password: await fe.token('someone_else'),
        ssl: { ca: fe.caPem },
      })
      .then(
        async (c) => {
          await c.end();
          return undefined;
        },
        (e: unknown) => e as { errno?: number; sqlState?: string; text?: string },
      );
    expect(err?.errno).toBe(1045);
    expect(err?.sqlState).toBe('28000');
    expect(err?.text).toBe(`Access denied for user '${user}'@'127.0.0.1' (using password: YES)`);
  });

  it('mysql2: a rejected token is errno 1045 with RDS wording, and the verdict is reported', async () => {
    const before = fe.logins.length;
    const wrong = await fe.token('someone_else'); // signed for another DBUser
    const err = await mysql.createConnection(mysql2Options(fe, user, wrong)).then(
      async (c) => {
        await c.end();
        return undefined;
      },
      (e: unknown) =>
        e as { errno?: number; sqlState?: string; sqlMessage?: string; code?: string },
    );
    expect(err).toMatchObject({
      errno: 1045,
      code: 'ER_ACCESS_DENIED_ERROR',
      sqlState: '28000',
      sqlMessage: `Access denied for user '${user}'@'127.0.0.1' (using password: YES)`,
    });
    expect(fe.logins.slice(before)).toMatchObject([{ ok: false, user, reason: 'wrong-user' }]);
  });

  it('without TLS: refused with 3159 before the token is asked for when TLS is required', async () => {
    const before = fe.logins.length;
    let asked = 0;
    const token = await fe.token(user);
    const err = await mysql
      .createConnection({
        ...mysql2Options(fe, user, token),
        ssl: undefined,
        authPlugins: {
          mysql_clear_password: () => () => {
            asked++;
            return Buffer.from(`${token}\0`);
          },
        },
      })
      .then(
        async (c) => {
          await c.end();
          return undefined;
        },
        (e: unknown) => e as { errno?: number; sqlState?: string; sqlMessage?: string },
      );
    expect(err).toMatchObject({
      errno: 3159,
      sqlState: '08004',
      sqlMessage:
        'Connections using insecure transport are prohibited while --require_secure_transport=ON.',
    });
    expect(asked).toBe(0);
    expect(fe.logins.slice(before)).toMatchObject([{ ok: false, user, reason: 'tls-required' }]);
  });

  it('without TLS: accepted when TLS is not required', async () => {
    const plain = await startMysqlFrontEnd({ requireTls: false });
    try {
      const c = await mysql.createConnection({
        ...mysql2Options(plain, user, await plain.token(user)),
        ssl: undefined,
      });
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT 1 + 1 AS n');
      expect(rows[0]?.n).toBe(2);
      await c.end();
      expect(plain.logins).toMatchObject([{ ok: true, user }]);
    } finally {
      await plain.close();
    }
  });

  it('upstream password auth (mysql_native_password), and upstream ERR passed on', async () => {
    const password = `pw'${randomBytes(6).toString('hex')}`;
    const pwUser = await createMysqlUser('u_emupw', password);
    const withPw = await startMysqlFrontEnd({
      upstream: { ...MYSQL_UPSTREAM, auth: { kind: 'password', password } },
    });
    const wrongPw = await startMysqlFrontEnd({
      upstream: { ...MYSQL_UPSTREAM, auth: { kind: 'password', password: 'not-it' } },
    });
    try {
      const c = await mysql.createConnection(
        mysql2Options(withPw, pwUser, await withPw.token(pwUser)),
      );
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
      expect(rows[0]?.u).toBe(`${pwUser}@%`);
      await c.end();

      // The token is fine, upstream refuses the emulator's own login: as the PostgreSQL front end
      // does, the client is told so, not with 1045 (drivers would take it for a bad token).
      const refused = async (fe: MysqlFrontEnd, user: string) =>
        mysql.createConnection(mysql2Options(fe, user, await fe.token(user))).then(
          async (x) => {
            await x.end();
            return undefined;
          },
          (e: unknown) => e as { errno?: number; sqlState?: string; sqlMessage?: string },
        );
      const err = await refused(wrongPw, pwUser);
      expect(err?.errno).toBe(1251);
      expect(err?.sqlState).toBe('08004');
      expect(err?.sqlMessage).toBe(
        `rds-iam emulator: the upstream server rejected the emulator's login as '${pwUser}': no such user upstream, or it needs a password other than the upstream URL's`,
      );
      // The token was good; the login's outcome is upstream's refusal, a reason of its own.
      expect(wrongPw.logins).toMatchObject([
        { ok: false, user: pwUser, reason: 'upstream-refused' },
      ]);
      expect(JSON.stringify(wrongPw.logins)).toContain('Access denied');
      // A user missing upstream: not the server's misleading "(using password: NO)".
      const missing = await refused(withPw, 'u_emu_missing_user');
      expect(missing?.errno).toBe(1251);
      expect(missing?.sqlMessage).toContain("login as 'u_emu_missing_user': no such user upstream");
      expect(missing?.sqlMessage).not.toContain('using password');
    } finally {
      await withPw.close();
      await wrongPw.close();
      await dropMysqlUser(pwUser);
    }
  });

  it('upstream.user overrides the upstream login name', async () => {
    const other = await startMysqlFrontEnd({
      upstream: { ...MYSQL_UPSTREAM, auth: { kind: 'trust' }, user },
    });
    try {
      const c = await mysql.createConnection(
        mysql2Options(other, 'iam_app', await other.token('iam_app')),
      );
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
      expect(rows[0]?.u).toBe(`${user}@%`);
      await c.end();
      expect(other.logins).toMatchObject([{ ok: true, user: 'iam_app' }]);
    } finally {
      await other.close();
    }
  });

  it('an unreachable upstream is a clear error at the greeting, not a hang', async () => {
    const closedPort = await freePort();
    const down = await startMysqlFrontEnd({
      upstream: { host: '127.0.0.1', port: closedPort, auth: { kind: 'trust' } },
    });
    try {
      const err = await mysql.createConnection(mysql2Options(down, user, 'x')).then(
        async (c) => {
          await c.end();
          return undefined;
        },
        (e: unknown) => e as { errno?: number; message?: string },
      );
      expect(err?.errno).toBe(2003);
      expect(err?.message).toMatch(
        /cannot reach the upstream server 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
      );
      expect(down.logins).toEqual([]);
    } finally {
      await down.close();
    }
  });

  it('wire level: greeting, sequence ids without TLS (0,1,2,3,4), token without NUL, then relay', async () => {
    const plain = await startMysqlFrontEnd({ requireTls: false });
    const c = await RawMysqlClient.connect(plain);
    try {
      const greeting = await c.read();
      expect(greeting.seq).toBe(0);
      const g = parseGreeting(greeting.payload);
      expect(g.scramble).toHaveLength(20);
      expect(g.authPlugin).toBe('mysql_native_password');
      for (const flag of [
        Capability.SSL,
        Capability.PROTOCOL_41,
        Capability.SECURE_CONNECTION,
        Capability.PLUGIN_AUTH,
        Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA,
        Capability.CONNECT_WITH_DB,
        Capability.DEPRECATE_EOF,
      ]) {
        expect(g.capabilities & flag).toBe(flag);
      }
      expect(g.capabilities & Capability.COMPRESS).toBe(0);
      expect(g.capabilities & Capability.LONG_PASSWORD).toBe(0); // MariaDB: extended capabilities follow

      c.send(1, RawMysqlClient.response(user));
      const sw = await c.read();
      expect(sw.seq).toBe(2);
      expect(parseAuthSwitch(sw.payload)).toEqual({
        plugin: 'mysql_clear_password',
        data: Buffer.alloc(0),
      });
      c.send(3, Buffer.from(await plain.token(user))); // no trailing NUL: accepted too
      const ok = await c.read();
      expect(ok.seq).toBe(4);
      expect(ok.payload[0]).toBe(0x00);

      // COM_QUERY restarts at 0; the reply comes from upstream untouched.
      c.send(0, Buffer.concat([Buffer.from([0x03]), Buffer.from('SELECT 42')]));
      const columns = await c.read();
      expect(columns).toMatchObject({ seq: 1 });
      expect(columns.payload[0]).toBe(1);
    } finally {
      c.destroy();
      await plain.close();
    }
  });

  it('wire level: with TLS the numbering continues after the SSLRequest (1 | 2,3,4,5)', async () => {
    const c = await RawMysqlClient.connect(fe);
    try {
      await c.read();
      c.send(1, RawMysqlClient.sslRequest());
      await c.startTls(fe.caPem);
      c.send(2, RawMysqlClient.response(user, { capabilities: RawMysqlClientCapsWithSsl() }));
      const sw = await c.read();
      expect(sw.seq).toBe(3);
      c.send(4, Buffer.from(`${await fe.token(user)}\0`));
      const ok = await c.read();
      expect(ok.seq).toBe(5);
      expect(ok.payload[0]).toBe(0x00);
    } finally {
      c.destroy();
    }
  });

  it('wire level: a rejection is ERR 1045 / 28000 with the next sequence id, then close', async () => {
    const c = await RawMysqlClient.connect(fe);
    try {
      await c.read();
      c.send(1, RawMysqlClient.sslRequest());
      await c.startTls(fe.caPem);
      c.send(2, RawMysqlClient.response(user, { capabilities: RawMysqlClientCapsWithSsl() }));
      await c.read();
      c.send(4, Buffer.from('not-a-token\0'));
      const err = await c.read();
      expect(err.seq).toBe(5);
      expect(parseErrPacket(err.payload)).toEqual({
        errno: 1045,
        sqlState: '28000',
        message: `Access denied for user '${user}'@'127.0.0.1' (using password: YES)`,
      });
      await c.closed;
    } finally {
      c.destroy();
    }
  });
});

function RawMysqlClientCapsWithSsl(): number {
  return (
    (Capability.LONG_PASSWORD |
      Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH |
      Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
      Capability.CONNECT_WITH_DB |
      Capability.SSL) >>>
    0
  );
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const address = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/*
 * A scripted MySQL 8 upstream (caching_sha2_password, no MariaDB bits), to cover what the local
 * MariaDB cannot: the fast-auth and RSA full-auth paths over plain TCP, and a MySQL-style greeting.
 */
describe('MySQL front end against a scripted MySQL 8 upstream', () => {
  it('caching_sha2_password: fast auth, then full auth with the RSA key, then relays', async () => {
    const password = 's3cret';
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const seen: string[] = [];
    const responses: HandshakeResponse[] = [];
    let fullAuth = false;
    const fake = net.createServer((socket) => {
      socket.on('error', () => undefined);
      const reader = new PacketReader(socket, 1 << 20);
      const scramble = Buffer.from('abcdefghijklmnopqrst');
      void (async () => {
        socket.write(
          frame(
            0,
            buildGreeting({
              serverVersion: '8.0.39',
              connectionId: 777,
              scramble,
              capabilities:
                (0xffffffff &
                  ~Capability.SSL &
                  ~Capability.COMPRESS &
                  ~Capability.ZSTD_COMPRESSION_ALGORITHM) >>>
                0,
              mariaDbCapabilities: 0,
              charset: 255,
              statusFlags: 2,
              authPlugin: 'caching_sha2_password',
            }),
          ),
        );
        const response = await reader.read();
        const parsed = parseHandshakeResponse(response.payload);
        if (parsed.kind !== 'response') throw new Error('expected a response');
        responses.push(parsed);
        seen.push(
          `user=${parsed.user}`,
          `plugin=${parsed.authPlugin}`,
          `ssl=${parsed.capabilities & Capability.SSL}`,
        );
        expect(parsed.authData.equals(cachingSha2Auth(password, scramble))).toBe(true);
        if (!fullAuth) {
          socket.write(frame(2, Buffer.from([0x01, 0x03]))); // fast auth success
          socket.write(frame(3, Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00])));
        } else {
          socket.write(frame(2, Buffer.from([0x01, 0x04]))); // full auth needed
          const ask = await reader.read();
          expect(ask).toMatchObject({ seq: 3 });
          expect([...ask.payload]).toEqual([0x02]);
          const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
          socket.write(frame(4, Buffer.concat([Buffer.from([0x01]), Buffer.from(pem)])));
          const enc = await reader.read();
          expect(enc.seq).toBe(5);
          const plain = privateDecrypt(
            { key: privateKey, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING },
            enc.payload,
          );
          const xored = Buffer.from(plain.map((b, i) => b ^ (scramble[i % 20] ?? 0)));
          seen.push(`password=${xored.toString('utf8')}`);
          socket.write(frame(6, Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00])));
        }
        // After login: echo one command back as a fake packet, proving the relay.
        const cmd = await reader.read();
        socket.write(frame(1, Buffer.concat([Buffer.from([0xfe]), cmd.payload.subarray(1)])));
      })().catch(() => socket.destroy());
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
    const address = fake.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const fe8 = await startMysqlFrontEnd({
      requireTls: false,
      upstream: { host: '127.0.0.1', port: address.port, auth: { kind: 'password', password } },
    });
    try {
      for (const full of [false, true]) {
        fullAuth = full;
        const c = await RawMysqlClient.connect(fe8);
        const g = parseGreeting((await c.read()).payload);
        expect(g.serverVersion).toBe('8.0.39');
        expect(g.connectionId).toBe(777);
        expect(g.capabilities & Capability.LONG_PASSWORD).toBe(Capability.LONG_PASSWORD);
        c.send(1, RawMysqlClient.response('app'));
        await c.read(); // switch
        c.send(3, Buffer.from(`${await fe8.token('app')}\0`));
        const ok = await c.read();
        expect(ok).toMatchObject({ seq: 4 });
        expect(ok.payload[0]).toBe(0);
        c.send(0, Buffer.from([0x03, 0x68, 0x69]));
        const echoed = await c.read();
        expect(echoed.payload.subarray(1).toString()).toBe('hi');
        c.destroy();
      }
      // mysql2 through the front end: what reaches upstream is the client's login, minus TLS.
      fullAuth = false;
      const m = await mysql.createConnection({
        host: fe8.host,
        port: fe8.port,
        user: 'app',
        database: 'appdb',
        charset: 'utf8mb4_bin',
        compress: true,
        connectAttributes: { program_name: 'emu-test' },
        authPlugins: {
          mysql_clear_password: () => async () => Buffer.from(`${await fe8.token('app')}\0`),
        },
      });
      expect(m.threadId).toBe(777);
      m.destroy();
      const last = responses[responses.length - 1];
      expect(last?.database?.toString()).toBe('appdb');
      expect(last?.charset).toBe(46); // utf8mb4_bin
      expect(last?.connectAttrs?.includes(Buffer.from('emu-test'))).toBe(true);
      expect((last?.capabilities ?? 0) & (Capability.SSL | Capability.COMPRESS)).toBe(0);
      expect((last?.capabilities ?? 0) & Capability.CONNECT_ATTRS).toBe(Capability.CONNECT_ATTRS);
      seen.length = 7; // the mysql2 run's own entries are checked above
      expect(seen).toEqual([
        'user=app',
        'plugin=caching_sha2_password',
        'ssl=0',
        'user=app',
        'plugin=caching_sha2_password',
        'ssl=0',
        `password=${password}\0`,
      ]);
    } finally {
      await fe8.close();
      await new Promise<void>((r) => fake.close(() => r()));
    }
  });
});

describe.skipIf(!available)('startEmulator({ engine: "mysql" }) against the local MariaDB', () => {
  let emu: Emulator;
  let user: string;
  const token = (as: string): Promise<string> =>
    sdkToken({
      host: emu.endpoint.host,
      port: emu.endpoint.port,
      user: as,
      credentials: DEMO_CREDENTIALS,
    });
  const options = async (
    as: string,
    extra: mysql.ConnectionOptions = {},
  ): Promise<mysql.ConnectionOptions> => {
    const t = await token(as);
    return {
      host: emu.host,
      port: emu.port,
      user: as,
      database: 'test',
      ssl: { ca: emu.caPem },
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${t}\0`) },
      ...extra,
    };
  };
  const failure = (p: Promise<{ end(): Promise<void> }>) =>
    p.then(
      async (c) => {
        await c.end();
        return undefined;
      },
      (e: unknown) => e as { errno?: number; sqlMessage?: string },
    );

  beforeAll(async () => {
    emu = await startEmulator({ engine: 'mysql', upstream: 'mysql://127.0.0.1:3306' });
    user = await createMysqlUser('u_emulator');
  });
  afterAll(async () => {
    await emu?.stop();
    if (user) await dropMysqlUser(user);
  });

  it('mysql2 and the mariadb connector log in; counters count them', async () => {
    emu.resetCounters();
    const c = await mysql.createConnection(await options(user));
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
    expect(rows[0]?.u).toBe(`${user}@%`);
    await c.end();
    const m = await mariadb.createConnection({
      host: emu.host,
      port: emu.port,
      user,
      password: await token(user),
      ssl: { ca: emu.caPem },
    });
    expect(await m.query('SELECT 7 AS n')).toEqual([{ n: 7 }]);
    await m.end();
    expect(emu.counters()).toMatchObject({ accepted: 2, rejected: 0 });
  });

  it('rejectNextLogins, an expired token (clock moved) and no TLS: refused with the right reasons', async () => {
    emu.resetCounters();
    emu.rejectNextLogins(1);
    expect(await failure(mysql.createConnection(await options(user)))).toMatchObject({
      errno: 1045,
    });
    const fresh = await options(user);
    emu.advanceClock(16 * 60_000);
    try {
      expect(await failure(mysql.createConnection(fresh))).toMatchObject({
        errno: 1045,
        sqlMessage: `Access denied for user '${user}'@'127.0.0.1' (using password: YES)`,
      });
    } finally {
      emu.setClockOffset(0);
    }
    expect(
      await failure(mysql.createConnection(await options(user, { ssl: undefined }))),
    ).toMatchObject({
      errno: 3159,
    });
    const c = await mysql.createConnection(await options(user)); // and then a good one
    await c.end();
    expect(emu.counters()).toMatchObject({
      accepted: 1,
      rejected: 3,
      rejectedByReason: { injected: 1, expired: 1, 'tls-required': 1 },
    });
  });

  it.skipIf(!hasMysqlCli)(
    'the mariadb / mysql command-line client (libmariadb) logs in with verified TLS',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rds-iam-mysql-'));
      try {
        const ca = join(dir, 'ca.pem');
        writeFileSync(ca, emu.caPem);
        const cli = (password: string, ...args: string[]) =>
          new Promise<{ code: number; out: string }>((resolve) => {
            execFile(
              'mysql',
              [
                '-h127.0.0.1',
                `-P${emu.port}`,
                `-u${user}`,
                '--batch',
                '--skip-column-names',
                ...args,
              ],
              // MYSQL_PWD keeps the token out of the process list.
              { env: { ...process.env, MYSQL_PWD: password }, timeout: 10_000 },
              (err, stdout, stderr) =>
                resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}`.trim() }),
            );
          });
        const ok = await cli(
          await token(user),
          `--ssl-ca=${ca}`,
          '--ssl-verify-server-cert',
          'test',
          '-e',
          'SELECT CURRENT_USER()',
        );
        expect(ok).toEqual({ code: 0, out: `${user}@%` });
        const denied = await cli('not-a-token', `--ssl-ca=${ca}`, 'test', '-e', 'SELECT 1');
        expect(denied.out).toBe(
          `ERROR 1045 (28000): Access denied for user '${user}'@'127.0.0.1' (using password: YES)`,
        );
        const plain = await cli(await token(user), '--skip-ssl', 'test', '-e', 'SELECT 1');
        expect(plain.out).toMatch(/^ERROR 3159 \(08004\)/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('stop() ends live sessions, client and upstream', async () => {
    const own = await startEmulator({
      engine: 'mysql',
      upstream: { host: '127.0.0.1', port: 3306 },
    });
    const t = await sdkToken({
      host: own.endpoint.host,
      port: own.endpoint.port,
      user,
      credentials: DEMO_CREDENTIALS,
    });
    const c = await mysql.createConnection({
      host: own.host,
      port: own.port,
      user,
      ssl: { ca: own.caPem },
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${t}\0`) },
    });
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
    const id = Number(rows[0]?.id);
    const ended = new Promise<void>((resolve) => c.once('error', () => resolve()));
    await own.stop();
    await ended;
    await waitFor(() => own.counters().connectionsActive === 0);
    // The upstream session is gone too.
    const root = await mysql.createConnection({ ...MYSQL_UPSTREAM, user: 'root' });
    try {
      const deadline = Date.now() + 3_000;
      for (;;) {
        const [left] = await root.query<mysql.RowDataPacket[]>(
          'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?',
          [id],
        );
        if (Number(left[0]?.n) === 0) break;
        if (Date.now() > deadline) throw new Error(`upstream session ${id} still there`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await root.end();
    }
  });
});
