import {
  Capability,
  Cursor,
  FrameReaderError,
  frame,
  loginMysql,
  type MysqlPacket,
  MysqlProtocolError,
  PacketReader,
  packetFraming,
  parseErrPacket,
  parseGreeting,
  sslRequest,
} from '@rds-iam/wire';
import {
  connectTcp,
  type LoginResult,
  ProbeConnection,
  type ProbeOptions,
  type ProbePhase,
  type ProbeResult,
  recordFailure,
} from './conn.js';

const MAX_PACKET = 0x1000000;
const UTF8MB4_GENERAL_CI = 45;
const CLEARTEXT = 'mysql_clear_password';

/**
 * A MySQL / MariaDB login as RDS sees it: TCP, greeting, SSLRequest, TLS verified,
 * HandshakeResponse41 announcing mysql_native_password with an empty response (what the mysql
 * client sends), the switch to mysql_clear_password that RDS asks of IAM users answered with the
 * token, then `SELECT` of the server clock. The token is sent only over a verified TLS connection
 * and only when the server asks for `mysql_clear_password`.
 */
export async function probeMysql(options: ProbeOptions): Promise<ProbeResult> {
  const started = performance.now();
  const { socket, result: tcp } = await connectTcp(options.host, options.port, options.timeoutMs);
  const result: ProbeResult = { tcp };
  if (!socket) return result;
  const conn = new ProbeConnection(socket, options.timeoutMs, started);
  let phase: ProbePhase = 'tls';
  try {
    const greetingPacket = await readPacket(conn);
    if (greetingPacket.payload[0] === 0xff) {
      const err = parseErrPacket(greetingPacket.payload);
      result.tls = {
        ok: false,
        offered: false,
        message: `the server refused the connection before TLS: ${err.errno ? `${err.errno} ` : ''}${err.message}`,
      };
      return result;
    }
    if (greetingPacket.payload[0] !== 10) {
      throw new Error(
        `not a MySQL greeting (protocol ${greetingPacket.payload[0]}): is this a MySQL server?`,
      );
    }
    const greeting = parseGreeting(greetingPacket.payload);
    if (!(greeting.capabilities & Capability.SSL)) {
      result.tls = {
        ok: false,
        offered: false,
        message: `the server (${greeting.serverVersion}) does not offer TLS (no CLIENT_SSL in its greeting)`,
      };
      return result;
    }
    let flags =
      Capability.LONG_PASSWORD |
      Capability.LONG_FLAG |
      Capability.PROTOCOL_41 |
      Capability.TRANSACTIONS |
      Capability.SECURE_CONNECTION |
      Capability.MULTI_RESULTS |
      Capability.PLUGIN_AUTH |
      Capability.SSL;
    if (options.database) flags |= Capability.CONNECT_WITH_DB;
    flags = (flags & (greeting.capabilities | Capability.SSL)) >>> 0;
    conn.write(frame(1, sslRequest(flags, MAX_PACKET, UTF8MB4_GENERAL_CI)));
    result.tls = await conn.upgrade(options.tls);
    if (!result.tls.ok || options.token === undefined) return result;

    phase = 'login';
    const token = options.token;
    const outcome = await loginMysql(new PacketReader(conn.reader), conn.write, {
      greeting,
      response: {
        capabilities: flags,
        mariaDbCapabilities: 0,
        maxPacketSize: MAX_PACKET,
        charset: UTF8MB4_GENERAL_CI,
        user: options.user,
        database:
          options.database && flags & Capability.CONNECT_WITH_DB
            ? Buffer.from(options.database, 'utf8')
            : undefined,
        connectAttrs: undefined,
      },
      seq: 2,
      secure: true,
      // An empty answer: the server switches IAM users to mysql_clear_password.
      initial: { plugin: 'mysql_native_password', authData: Buffer.alloc(0) },
      password: (plugin) => (plugin === CLEARTEXT ? token : undefined),
      timeoutMs: conn.timeoutMs,
    });
    result.login = loginResult(outcome, greeting.serverVersion);
    if (result.login.outcome !== 'accepted' && result.login.outcome !== 'no-password')
      return result;

    phase = 'time';
    const sent = Date.now();
    conn.write(
      frame(0, Buffer.concat([Buffer.from([0x03]), Buffer.from('SELECT UNIX_TIMESTAMP(NOW(3))')])),
    );
    const value = await readSingleValue(conn);
    const received = Date.now();
    if (value !== undefined) {
      result.serverTime = {
        serverMs: Math.round(Number(value) * 1000),
        localMs: (sent + received) / 2,
        roundTripMs: received - sent,
      };
    }
    conn.write(frame(0, Buffer.from([0x01])));
  } catch (err) {
    recordFailure(
      result,
      phase,
      conn.failure(err, (e) =>
        e instanceof MysqlProtocolError
          ? `${e.message} during authentication`
          : e instanceof FrameReaderError && e.reason === 'oversize'
            ? 'oversized packet: is this a MySQL server?'
            : e instanceof Error
              ? e.message
              : String(e),
      ),
    );
  } finally {
    conn.close();
  }
  return result;
}

function loginResult(
  outcome: Awaited<ReturnType<typeof loginMysql>>,
  serverVersion: string,
): LoginResult {
  if (outcome.kind === 'unanswered') {
    return { outcome: 'not-iam', method: outcome.plugin, serverVersion };
  }
  const method = outcome.switched ? outcome.plugin : undefined;
  if (outcome.kind === 'err') {
    const err = parseErrPacket(outcome.payload);
    return {
      outcome: 'rejected',
      ...(method ? { method } : {}),
      error: {
        errno: err.errno,
        ...(err.sqlState ? { sqlState: err.sqlState } : {}),
        message: err.message,
      },
      serverVersion,
    };
  }
  return {
    outcome: method === CLEARTEXT ? 'accepted' : 'no-password',
    method: method ?? 'mysql_native_password (empty)',
    serverVersion,
  };
}

async function readPacket(conn: ProbeConnection): Promise<MysqlPacket> {
  const raw = await conn.reader.read(packetFraming, conn.timeoutMs);
  return { seq: raw[3] ?? 0, payload: raw.subarray(4) };
}

async function readSingleValue(conn: ProbeConnection): Promise<string | undefined> {
  const head = await readPacket(conn);
  if (head.payload[0] === 0xff) throw new Error(parseErrPacket(head.payload).message);
  if (head.payload[0] === 0x00) return undefined;
  const columns = new Cursor(head.payload, 'result set header').lenenc();
  for (let i = 0; i < columns; i++) await readPacket(conn);
  await readPacket(conn); // EOF after the column definitions (CLIENT_DEPRECATE_EOF is not set)
  let value: string | undefined;
  for (;;) {
    const row = await readPacket(conn);
    const first = row.payload[0];
    if (first === 0xfe && row.payload.length < 9) return value;
    if (first === 0xff) throw new Error(parseErrPacket(row.payload).message);
    if (value === undefined && first !== 0xfb) {
      const cursor = new Cursor(row.payload, 'row');
      value = cursor.bytes(cursor.lenenc()).toString('utf8');
    }
  }
}
