import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../src/index.js';
import { DEMO_CREDENTIALS, type EmulatorCredentials } from '../src/verify.js';
import { clientFor, createRole, dropRole, PG_UPSTREAM, sdkToken, waitFor } from './helpers.js';

const UPSTREAM = `postgres://${PG_UPSTREAM.host}:${PG_UPSTREAM.port}`;

interface PgError {
  code?: string;
  message: string;
}

async function connectError(client: pg.Client): Promise<PgError> {
  try {
    await client.connect();
  } catch (err) {
    return err as PgError;
  } finally {
    await client.end().catch(() => undefined);
  }
  throw new Error('connect() succeeded; expected a rejection');
}

describe('PostgreSQL through the emulator', () => {
  let emu: Emulator;
  let role: string;
  const token = (user = role, credentials: EmulatorCredentials = DEMO_CREDENTIALS) =>
    sdkToken({ ...emu.endpoint, user, credentials });
  const connect = async (extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> => {
    const c = clientFor(emu, role, await token(), extra);
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    emu = await startEmulator({ engine: 'postgres', upstream: UPSTREAM });
    role = await createRole('emupg');
  });
  afterAll(async () => {
    await emu.stop();
    await dropRole(role);
  });
  beforeEach(() => {
    emu.setClockOffset(0);
    emu.rejectNextLogins(0);
    emu.setRateLimit(undefined);
    emu.resetCounters();
  });

  it('logs in over verified TLS and runs a query as the login user', async () => {
    const c = await connect({ ssl: { ca: emu.caPem, servername: 'localhost' } });
    const r = await c.query<{ u: string; db: string; app: string }>(
      "SELECT current_user AS u, current_database() AS db, current_setting('application_name') AS app",
    );
    expect(r.rows[0]).toEqual({ u: role, db: 'test', app: '' });
    await c.end();
    const withApp = await connect({ application_name: 'emulator-test' });
    const app = await withApp.query<{ a: string }>(
      "SELECT current_setting('application_name') AS a",
    );
    expect(app.rows[0]?.a).toBe('emulator-test');
    await withApp.end();
    expect(emu.counters()).toMatchObject({ accepted: 2, rejected: 0, connectionsOpened: 2 });
  });

  it('rejects a TLS server name the certificate does not carry', async () => {
    const c = clientFor(emu, role, await token(), {
      ssl: { ca: emu.caPem, servername: 'not-the-emulator.example' },
    });
    const err = await connectError(c);
    expect(err.message).toMatch(/altnames|does not match/i);
  });

  it('transactions commit and roll back', async () => {
    const c = await connect();
    await c.query('CREATE TEMP TABLE t (n int)');
    await c.query('BEGIN');
    await c.query('INSERT INTO t VALUES (1)');
    await c.query('ROLLBACK');
    await c.query('BEGIN');
    await c.query('INSERT INTO t VALUES (2)');
    await c.query('COMMIT');
    const r = await c.query<{ n: number }>('SELECT n FROM t');
    expect(r.rows).toEqual([{ n: 2 }]);
    await c.end();
  });

  it('relays a 10 MB result and a 4 MB parameter', async () => {
    const c = await connect();
    const r = await c.query<{ big: string }>('SELECT repeat($1, 10 * 1024 * 1024) AS big', ['x']);
    expect(r.rows[0]?.big.length).toBe(10 * 1024 * 1024);
    const up = await c.query<{ n: number }>('SELECT length($1::text) AS n', ['y'.repeat(4 << 20)]);
    expect(up.rows[0]?.n).toBe(4 << 20);
    await c.end();
  });

  it('LISTEN / NOTIFY', async () => {
    const listener = await connect();
    const notifier = await connect();
    const got = new Promise<string | undefined>((resolve) =>
      listener.on('notification', (n) => resolve(n.payload)),
    );
    await listener.query('LISTEN emu_channel');
    await notifier.query("NOTIFY emu_channel, 'hello'");
    expect(await got).toBe('hello');
    await Promise.all([listener.end(), notifier.end()]);
  });

  it('prepared statements', async () => {
    const c = await connect();
    for (const n of [1, 41]) {
      const r = await c.query<{ v: number }>({
        name: 'plus_one',
        text: 'SELECT $1::int + 1 AS v',
        values: [n],
      });
      expect(r.rows[0]?.v).toBe(n + 1);
    }
    const prepared = await c.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_prepared_statements WHERE name = 'plus_one'",
    );
    expect(prepared.rows[0]?.n).toBe('1');
    await c.end();
  });

  it('50 concurrent connections', async () => {
    const clients = await Promise.all(Array.from({ length: 50 }, () => connect()));
    const pids = await Promise.all(
      clients.map(
        async (c) => (await c.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]?.p,
      ),
    );
    expect(new Set(pids).size).toBe(50);
    expect(emu.counters().connectionsActive).toBe(50);
    await Promise.all(clients.map((c) => c.end()));
    await waitFor(() => emu.counters().connectionsActive === 0);
    expect(emu.counters()).toMatchObject({ accepted: 50, connectionsOpened: 50 });
  });

  it('cancels a running query (CancelRequest forwarded upstream)', async () => {
    const c = await connect();
    const started = Date.now();
    const query = new pg.Query('SELECT pg_sleep(10)');
    const done = new Promise<PgError | undefined>((resolve) => {
      query.on('error', (e: Error) => resolve(e as PgError));
      query.on('end', () => resolve(undefined));
    });
    c.query(query);
    await new Promise((r) => setTimeout(r, 200));
    // A CancelRequest on a connection of its own, as psql sends it (pg's own Client#cancel reads
    // the deprecated Client#activeQuery).
    const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
    const cancel = Buffer.alloc(16);
    cancel.writeInt32BE(16, 0);
    cancel.writeInt32BE(80877102, 4);
    cancel.writeInt32BE(processID, 8);
    cancel.writeInt32BE(secretKey, 12);
    const canceller = net.connect(emu.port, emu.host, () => canceller.end(cancel));
    canceller.on('error', () => undefined);
    const err = await done;
    expect(err?.code).toBe('57014');
    expect(Date.now() - started).toBeLessThan(5_000);
    const after = await c.query<{ one: number }>('SELECT 1 AS one');
    expect(after.rows[0]?.one).toBe(1);
    await c.end();
    // The cancel connection is not a login.
    expect(emu.counters()).toMatchObject({ accepted: 1, rejected: 0, connectionsOpened: 2 });
  });

  it('rejects a bad token with 28P01 and RDS wording', async () => {
    const err = await connectError(clientFor(emu, role, 'not-a-token'));
    expect(err.code).toBe('28P01');
    expect(err.message).toBe(`PAM authentication failed for user "${role}"`);
    const other = await connectError(clientFor(emu, role, await token('someone_else')));
    expect(other.code).toBe('28P01');
    expect(emu.counters()).toMatchObject({
      accepted: 0,
      rejected: 2,
      rejectedByReason: { malformed: 1, 'wrong-user': 1 },
    });
  });

  it('refuses plaintext when TLS is required, before asking for the token', async () => {
    const err = await connectError(clientFor(emu, role, await token(), { ssl: false }));
    expect(err.code).toBe('28000');
    expect(err.message).toMatch(/pg_hba\.conf rejects connection .* no encryption/);
    expect(emu.counters().rejectedByReason).toEqual({ 'tls-required': 1 });
  });

  it('the clock offset moves expiry', async () => {
    const password = await token();
    emu.setClockOffset(16 * 60_000);
    const err = await connectError(clientFor(emu, role, password));
    expect(err.code).toBe('28P01');
    emu.setClockOffset(0);
    emu.advanceClock(-6 * 60_000);
    expect((await connectError(clientFor(emu, role, password))).code).toBe('28P01');
    emu.advanceClock(6 * 60_000);
    const c = clientFor(emu, role, password);
    await c.connect();
    await c.end();
    expect(emu.counters().rejectedByReason).toEqual({ expired: 1, 'not-yet-valid': 1 });
  });

  it('rejectNextLogins(1) rejects exactly one login', async () => {
    emu.rejectNextLogins(1);
    const password = await token();
    const err = await connectError(clientFor(emu, role, password));
    expect(err.code).toBe('28P01');
    expect(err.message).toBe(`PAM authentication failed for user "${role}"`);
    const c = clientFor(emu, role, password);
    await c.connect();
    await c.end();
    expect(emu.counters()).toMatchObject({
      accepted: 1,
      rejected: 1,
      rejectedByReason: { injected: 1 },
    });
  });

  it('rate limit rejects logins beyond N per second', async () => {
    emu.setRateLimit(2);
    const password = await token();
    const results = [];
    for (let i = 0; i < 3; i++) {
      const c = clientFor(emu, role, password);
      results.push(
        await c.connect().then(
          () => 'ok',
          (e: PgError) => e.code,
        ),
      );
      await c.end().catch(() => undefined);
    }
    expect(results).toEqual(['ok', 'ok', '28P01']);
    expect(emu.counters().rejectedByReason).toEqual({ 'rate-limited': 1 });
  });

  it('accepts temporary credentials added at run time', async () => {
    const temp: EmulatorCredentials = {
      accessKeyId: 'ASIAEMULATORTEMP0002',
      secretAccessKey: 'temp-secret',
      sessionToken: 'x'.repeat(3000),
      expiration: new Date(Date.now() + 3_600_000),
    };
    const password = await token(role, temp);
    expect((await connectError(clientFor(emu, role, password))).code).toBe('28P01');
    emu.addCredentials(temp);
    const c = clientFor(emu, role, password);
    await c.connect();
    await c.end();
    emu.advanceClock(2 * 3_600_000);
    expect((await connectError(clientFor(emu, role, await token(role, temp)))).code).toBe('28P01');
    expect(emu.counters().rejectedByReason).toEqual({
      'unknown-access-key': 1,
      'credentials-expired': 1,
    });
  });

  it('reports an upstream refusal without 28P01', async () => {
    const err = await connectError(
      clientFor(emu, 'no_such_role_emu', await token('no_such_role_emu')),
    );
    expect(err.code).toBe('08004');
    expect(err.message).toMatch(/upstream server rejected .*no_such_role_emu.*does not exist/);
    const db = await connectError(
      clientFor(emu, role, await token(), { database: 'no_such_db_emu' }),
    );
    expect(db.code).toBe('3D000');
  });

  it('direct TLS (sslnegotiation=direct)', async () => {
    const config = { sslnegotiation: 'direct' } as Partial<pg.ClientConfig>;
    const c = await connect(config);
    const r = await c.query<{ ssl: boolean }>('SELECT 1 AS ssl');
    expect(r.rows).toHaveLength(1);
    await c.end();
  });

  it('connectionsActive returns to 0', async () => {
    await waitFor(() => emu.counters().connectionsActive === 0);
  });
});

describe('PostgreSQL emulator options', () => {
  const emulators: Emulator[] = [];
  let role: string;
  beforeAll(async () => {
    role = await createRole('emupgo');
  });
  afterEach(async () => {
    await Promise.all(emulators.splice(0).map((e) => e.stop()));
  });
  afterAll(async () => {
    await dropRole(role);
  });

  it('requireTls: false accepts plaintext', async () => {
    const emu = await startEmulator({ engine: 'postgres', upstream: UPSTREAM, requireTls: false });
    emulators.push(emu);
    const c = clientFor(
      emu,
      role,
      await sdkToken({ ...emu.endpoint, user: role, credentials: DEMO_CREDENTIALS }),
      {
        ssl: false,
      },
    );
    await c.connect();
    await c.end();
    expect(emu.counters().accepted).toBe(1);
  });

  it('an emulated RDS endpoint name: TLS verifies against it, tokens must be signed for it', async () => {
    const endpoint = { host: 'mydb.cluster-abc123.eu-west-1.rds.amazonaws.com', port: 5432 };
    const emu = await startEmulator({
      engine: 'postgres',
      upstream: UPSTREAM,
      endpoint,
      region: 'eu-west-1',
    });
    emulators.push(emu);
    expect(emu.endpoint).toEqual(endpoint);
    const password = await sdkToken({
      ...endpoint,
      user: role,
      region: 'eu-west-1',
      credentials: DEMO_CREDENTIALS,
    });
    const c = clientFor(emu, role, password, { ssl: { ca: emu.caPem, servername: endpoint.host } });
    await c.connect();
    await c.end();
    const local = await sdkToken({
      host: emu.host,
      port: emu.port,
      user: role,
      region: 'eu-west-1',
      credentials: DEMO_CREDENTIALS,
    });
    expect((await connectError(clientFor(emu, role, local))).code).toBe('28P01');
    expect(emu.counters().rejectedByReason).toEqual({ 'wrong-host': 1 });
    expect(emu.url(role, 'test')).toBe(`postgres://${role}@127.0.0.1:${emu.port}/test`);
  });

  it('upstream unreachable: a clear error, not 28P01', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const emu = await startEmulator({
      engine: 'postgres',
      upstream: `postgres://127.0.0.1:${port}`,
    });
    emulators.push(emu);
    const err = await connectError(
      clientFor(
        emu,
        role,
        await sdkToken({ ...emu.endpoint, user: role, credentials: DEMO_CREDENTIALS }),
      ),
    );
    expect(err.code).toBe('08006');
    expect(err.message).toMatch(/could not reach the upstream server .*ECONNREFUSED/);
  });

  for (const method of ['cleartext', 'md5', 'scram'] as const) {
    it(`upstream password auth: ${method}`, async () => {
      const fake = await fakeUpstream(method, 'upstream_user', 's3cret pässword');
      try {
        for (const [password, ok] of [
          ['s3cret pässword', true],
          ['wrong', false],
        ] as const) {
          const emu = await startEmulator({
            // A stand-in server that only speaks the login: it has no rds_iam to ask about.
            allowNonIamUsers: true,
            engine: 'postgres',
            upstream: {
              host: '127.0.0.1',
              port: fake.port,
              user: 'upstream_user',
              auth: { kind: 'password', password },
            },
          });
          emulators.push(emu);
          const c = clientFor(
            emu,
            'app',
            await sdkToken({ ...emu.endpoint, user: 'app', credentials: DEMO_CREDENTIALS }),
          );
          if (ok) {
            await c.connect();
            await c.end();
          } else {
            const err = await connectError(c);
            expect(err.code).toBe('08004');
            expect(err.message).toMatch(
              /upstream server rejected the emulator's login as "upstream_user"/,
            );
          }
        }
        expect(fake.logins).toEqual([
          { user: 'upstream_user', ok: true },
          { user: 'upstream_user', ok: false },
        ]);
      } finally {
        await fake.close();
      }
    });
  }

  it('trust upstream that asks for a password: a clear error', async () => {
    const fake = await fakeUpstream('md5', 'app', 'pw');
    try {
      const emu = await startEmulator({
        engine: 'postgres',
        upstream: `postgres://127.0.0.1:${fake.port}`,
      });
      emulators.push(emu);
      const err = await connectError(
        clientFor(
          emu,
          'app',
          await sdkToken({ ...emu.endpoint, user: 'app', credentials: DEMO_CREDENTIALS }),
        ),
      );
      expect(err.code).toBe('08004');
      expect(err.message).toMatch(/asks for a password \(md5\) but the emulator has none/);
    } finally {
      await fake.close();
    }
  });
});

// ---- a minimal PostgreSQL server that checks passwords (the local one is trust-only) ----------

interface FakeUpstream {
  port: number;
  logins: Array<{ user: string; ok: boolean }>;
  close(): Promise<void>;
}

function msg(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function auth(code: number, extra = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(code);
  return msg('R', Buffer.concat([b, extra]));
}

function pgError(code: string, message: string): Buffer {
  return msg('E', Buffer.from(`SFATAL\0C${code}\0M${message}\0\0`));
}

const hmac = (key: Buffer, s: string) => createHmac('sha256', key).update(s).digest();
const md5 = (s: Buffer | string) => createHash('md5').update(s).digest('hex');

async function fakeUpstream(
  method: 'cleartext' | 'md5' | 'scram',
  user: string,
  password: string,
): Promise<FakeUpstream> {
  const logins: FakeUpstream['logins'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    let started = false;
    let loginUser = '';
    const salt = randomBytes(method === 'md5' ? 4 : 16);
    let scram: { firstBare: string; serverFirst: string; nonce: string } | undefined;
    const finish = (ok: boolean) => {
      logins.push({ user: loginUser, ok });
      if (!ok) {
        socket.end(pgError('28P01', `password authentication failed for user "${loginUser}"`));
        return;
      }
      const key = Buffer.alloc(8);
      socket.write(
        Buffer.concat([
          auth(0),
          msg('S', Buffer.from('server_version\u000015.0\u0000')),
          msg('K', key),
          msg('Z', Buffer.from('I')),
        ]),
      );
    };
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (!started) {
          if (buf.length < 4 || buf.length < buf.readInt32BE(0)) return;
          const len = buf.readInt32BE(0);
          const parts = buf.subarray(8, len).toString('utf8').split('\0');
          loginUser = parts[parts.indexOf('user') + 1] ?? '';
          buf = buf.subarray(len);
          started = true;
          if (method === 'cleartext') socket.write(auth(3));
          else if (method === 'md5') socket.write(auth(5, salt));
          else socket.write(auth(10, Buffer.from('SCRAM-SHA-256\0\0')));
          continue;
        }
        if (buf.length < 5 || buf.length < buf.readInt32BE(1) + 1) return;
        const len = buf.readInt32BE(1);
        const type = String.fromCharCode(buf[0] ?? 0);
        const body = buf.subarray(5, len + 1);
        buf = buf.subarray(len + 1);
        if (type === 'X') {
          socket.end();
          return;
        }
        if (type !== 'p') continue;
        if (method === 'cleartext') {
          finish(loginUser === user && body.toString('utf8', 0, body.length - 1) === password);
        } else if (method === 'md5') {
          const expected = `md5${md5(Buffer.concat([Buffer.from(md5(password + loginUser)), salt]))}`;
          finish(loginUser === user && body.toString('utf8', 0, body.length - 1) === expected);
        } else if (!scram) {
          const mechEnd = body.indexOf(0);
          const first = body.toString('utf8', mechEnd + 5);
          const firstBare = first.slice(first.indexOf(',', first.indexOf(',') + 1) + 1);
          const clientNonce = /r=([^,]+)/.exec(firstBare)?.[1] ?? '';
          const nonce = clientNonce + randomBytes(12).toString('base64');
          const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=4096`;
          scram = { firstBare, serverFirst, nonce };
          socket.write(auth(11, Buffer.from(serverFirst)));
        } else {
          const final = body.toString('utf8');
          const withoutProof = final.slice(0, final.lastIndexOf(',p='));
          const proof = Buffer.from(final.slice(final.lastIndexOf(',p=') + 3), 'base64');
          const salted = pbkdf2Sync(password, salt, 4096, 32, 'sha256');
          const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
          const authMessage = `${scram.firstBare},${scram.serverFirst},${withoutProof}`;
          const sig = hmac(storedKey, authMessage);
          const clientKey = Buffer.from(proof.map((b, i) => b ^ (sig[i] ?? 0)));
          const ok =
            loginUser === user &&
            withoutProof === `c=biws,r=${scram.nonce}` &&
            createHash('sha256').update(clientKey).digest().equals(storedKey);
          if (ok) {
            const v = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64');
            socket.write(auth(12, Buffer.from(`v=${v}`)));
          }
          finish(ok);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    logins,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}
