import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import {
  buildHandshakeResponse,
  Capability,
  frame,
  type MysqlPacket,
  PacketReader,
} from '@rds-iam/wire';
import mysql from 'mysql2/promise';
import { createCertificateAuthority } from '../src/certificate.js';
import type { ConnectionContext, UpstreamTarget, VerifyResult } from '../src/context.js';
import { handleMysqlConnection } from '../src/mysql.js';
import { createVerifier, DEMO_CREDENTIALS } from '../src/verify.js';
import { sdkToken } from './helpers.js';

/*
 * Test bed for the MySQL front end on its own: a loopback `net.Server` handing each connection to
 * `handleMysqlConnection` with a ConnectionContext built here (TLS from the emulator's generated CA,
 * the real verifier for the listening port, counters of verdicts), in front of the local MariaDB.
 */

/** The local MariaDB / MySQL server the front end logs in to upstream. */
export const MYSQL_UPSTREAM = { host: '127.0.0.1', port: 3306 } as const;

/** Settings a test may change between connections; each new connection reads them. */
export interface FrontEndSettings {
  requireTls: boolean;
  handshakeTimeoutMs: number;
  maxHandshakePacketBytes: number;
  upstream: UpstreamTarget;
  serverVersion?: string;
  /** Overrides the verdict of the real verifier (e.g. to force a rejection). */
  verify?: (token: string, user: string) => VerifyResult;
}

/** A running front end. */
export interface MysqlFrontEnd {
  readonly host: string;
  readonly port: number;
  /** CA certificate clients trust (`ssl: { ca }`). */
  readonly caPem: string;
  readonly settings: FrontEndSettings;
  /** Every verdict reported through `ctx.onLogin`, in order. */
  readonly logins: VerifyResult[];
  /** Client sockets accepted and not yet closed. */
  openSockets(): number;
  /** A real token for `user`, signed with the demo credentials for this endpoint. */
  token(user: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts a front end on 127.0.0.1 with a random port. */
export async function startMysqlFrontEnd(
  settings: Partial<FrontEndSettings> = {},
): Promise<MysqlFrontEnd> {
  const { caPem, certPem, keyPem } = await createCertificateAuthority();
  const secureContext = tls.createSecureContext({ cert: certPem, key: keyPem });
  const current: FrontEndSettings = {
    requireTls: true,
    handshakeTimeoutMs: 10_000,
    maxHandshakePacketBytes: 64 * 1024,
    upstream: { ...MYSQL_UPSTREAM, auth: { kind: 'trust' } },
    ...settings,
  };
  const logins: VerifyResult[] = [];
  const sockets = new Set<net.Socket>();
  let verifier: ((token: string, user: string) => VerifyResult) | undefined;

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const ctx: ConnectionContext = {
      secureContext,
      requireTls: current.requireTls,
      upstream: current.upstream,
      verify: (token, user) => (current.verify ?? verifier ?? rejectAll)(token, user),
      onLogin: (result) => logins.push(result),
      handshakeTimeoutMs: current.handshakeTimeoutMs,
      maxHandshakePacketBytes: current.maxHandshakePacketBytes,
      serverVersion: current.serverVersion,
    };
    handleMysqlConnection(socket, ctx);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const port = address.port;
  verifier = createVerifier({
    region: 'us-east-1',
    endpoint: { host: '127.0.0.1', port },
    credentials: [DEMO_CREDENTIALS],
    now: Date.now,
  });

  return {
    host: '127.0.0.1',
    port,
    caPem,
    settings: current,
    logins,
    openSockets: () => sockets.size,
    token: (user) => sdkToken({ host: '127.0.0.1', port, user, credentials: DEMO_CREDENTIALS }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const rejectAll = (_token: string, user: string): VerifyResult => ({
  ok: false,
  user,
  reason: 'malformed',
  detail: 'no verifier yet',
});

/** mysql2 options that log in to `fe` as `user` with `token` over verified TLS. */
export function mysql2Options(
  fe: MysqlFrontEnd,
  user: string,
  token: string,
  extra: mysql.ConnectionOptions = {},
): mysql.ConnectionOptions {
  return {
    host: fe.host,
    port: fe.port,
    user,
    database: 'test',
    ssl: { ca: fe.caPem },
    // mysql2's cleartext gate opens for a custom mysql_clear_password plugin (DESIGN.md).
    authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
    ...extra,
  };
}

/** Runs `sql` on a direct root connection to the upstream server. */
export async function rootQuery(sql: string): Promise<void> {
  const c = await mysql.createConnection({ ...MYSQL_UPSTREAM, user: 'root' });
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Creates a throwaway MariaDB / MySQL user with rights on `test`; returns its name. */
export async function createMysqlUser(prefix = 'u_emu', password = ''): Promise<string> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const pw = password.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  await rootQuery(`CREATE USER '${name}'@'%' IDENTIFIED BY '${pw}'`);
  await rootQuery(`GRANT ALL ON test.* TO '${name}'@'%'`);
  return name;
}

/** Drops a user made by {@link createMysqlUser}, ending its sessions first. */
export async function dropMysqlUser(name: string): Promise<void> {
  const c = await mysql.createConnection({ ...MYSQL_UPSTREAM, user: 'root' });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>(
      'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?',
      [name],
    );
    for (const row of rows) {
      await c.query(`KILL ${Number(row.id)}`).catch(() => undefined);
    }
    await c.query(`DROP USER IF EXISTS '${name}'@'%'`);
  } finally {
    await c.end();
  }
}

/** Whether the upstream server answers; suites skip with a clear name when it does not. */
export async function mysqlAvailable(): Promise<boolean> {
  try {
    await rootQuery('SELECT 1');
    return true;
  } catch {
    return false;
  }
}

/** Capabilities a hand-written test client announces. */
export const RAW_CLIENT_CAPABILITIES =
  Capability.LONG_PASSWORD |
  Capability.PROTOCOL_41 |
  Capability.SECURE_CONNECTION |
  Capability.PLUGIN_AUTH |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  Capability.CONNECT_WITH_DB |
  Capability.TRANSACTIONS |
  Capability.DEPRECATE_EOF;

/**
 * A hand-written MySQL client for protocol-level tests: reads packets with the front end's own
 * PacketReader, writes whatever a test wants, byte-exact.
 */
export class RawMysqlClient {
  socket: net.Socket;
  reader: PacketReader;
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.reader = new PacketReader(socket, 1 << 24);
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connects; does not read the greeting. */
  static async connect(fe: { host: string; port: number }): Promise<RawMysqlClient> {
    const socket = net.connect({ host: fe.host, port: fe.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawMysqlClient(socket);
  }

  read(): Promise<MysqlPacket> {
    return this.reader.read();
  }

  send(seq: number, payload: Buffer): void {
    this.socket.write(frame(seq, payload));
  }

  /** Upgrades to TLS (after an SSLRequest) with full verification against `caPem`. */
  async startTls(caPem: string): Promise<void> {
    this.reader.detach();
    const secure = tls.connect({ socket: this.socket, ca: caPem, servername: 'localhost' });
    secure.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.reader = new PacketReader(secure, 1 << 24);
  }

  /** A HandshakeResponse41 payload for `user`. */
  static response(user: string, opts: { capabilities?: number; database?: string } = {}): Buffer {
    return buildHandshakeResponse({
      capabilities: opts.capabilities ?? RAW_CLIENT_CAPABILITIES,
      mariaDbCapabilities: 0,
      maxPacketSize: 1 << 24,
      charset: 45, // utf8mb4_general_ci
      user,
      authData: Buffer.alloc(20, 1),
      database: Buffer.from(opts.database ?? 'test'),
      authPlugin: 'mysql_native_password',
      connectAttrs: undefined,
    });
  }

  /** The 32-byte SSLRequest payload. */
  static sslRequest(capabilities = RAW_CLIENT_CAPABILITIES | Capability.SSL): Buffer {
    const b = Buffer.alloc(32);
    b.writeUInt32LE(capabilities >>> 0, 0);
    b.writeUInt32LE(1 << 24, 4);
    b[8] = 45;
    return b;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
