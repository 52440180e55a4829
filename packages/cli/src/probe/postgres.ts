import {
  connectTcp,
  type LoginResult,
  ProbeConnection,
  type ProbeOptions,
  type ProbeResult,
} from './conn.js';

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const PROTOCOL_3_0 = 196_608;
const MAX_MESSAGE = 1 << 20;

const AUTH_METHODS: Record<number, string> = {
  0: 'none (trust)',
  2: 'Kerberos V5',
  3: 'cleartext password',
  5: 'MD5 password',
  7: 'GSSAPI',
  9: 'SSPI',
  10: 'SASL (SCRAM-SHA-256)',
};

/**
 * A PostgreSQL login as RDS sees it: TCP, SSLRequest, TLS verified, StartupMessage, the token as
 * the cleartext password, then `SELECT` of the server clock. The token is sent only over a verified
 * TLS connection and only when the server asks for a cleartext password.
 */
export async function probePostgres(options: ProbeOptions): Promise<ProbeResult> {
  const { socket, result: tcp } = await connectTcp(options.host, options.port, options.timeoutMs);
  const result: ProbeResult = { tcp };
  if (!tcp.ok) return result;
  const conn = new ProbeConnection(socket, options.timeoutMs);
  let phase: 'tls' | 'login' | 'time' = 'tls';
  try {
    conn.write(SSL_REQUEST);
    const answer = (await conn.read(1)).toString('latin1');
    if (answer === 'N') {
      result.tls = {
        ok: false,
        offered: false,
        message: "the server answered the SSLRequest with 'N': it does not offer TLS",
      };
      return result;
    }
    if (answer !== 'S') {
      result.tls = {
        ok: false,
        offered: false,
        message: `the server answered the SSLRequest with ${JSON.stringify(answer)}, not 'S' or 'N': is this a PostgreSQL server?`,
      };
      return result;
    }
    result.tls = await conn.upgrade(options.tls);
    if (!result.tls.ok || options.token === undefined) return result;

    phase = 'login';
    result.login = await login(conn, options, options.token);
    if (result.login.outcome !== 'accepted' && result.login.outcome !== 'no-password') {
      return result;
    }
    phase = 'time';
    const sent = Date.now();
    conn.write(
      message('Q', cstring('SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint::text')),
    );
    let value: string | undefined;
    for (;;) {
      const { type, body } = await readMessage(conn);
      if (type === 'D') value = firstColumn(body);
      else if (type === 'E') throw new Error(errorFields(body).M ?? 'query failed');
      else if (type === 'Z') break;
    }
    const received = Date.now();
    if (value !== undefined) {
      result.serverTime = {
        serverMs: Number(value),
        localMs: (sent + received) / 2,
        roundTripMs: received - sent,
      };
    }
    conn.write(message('X', Buffer.alloc(0)));
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (phase === 'tls') {
      const code = (err as { code?: string }).code;
      result.tls = {
        ok: false,
        offered: true,
        message: text,
        ...(code ? { verifyError: code } : {}),
      };
    } else if (phase === 'login') {
      result.login = { outcome: 'error', error: { message: text } };
    } else {
      result.serverTimeError = text;
    }
  } finally {
    conn.close();
  }
  return result;
}

async function login(
  conn: ProbeConnection,
  options: ProbeOptions,
  token: string,
): Promise<LoginResult> {
  const params = [
    'user',
    options.user,
    'database',
    options.database ?? 'postgres',
    'application_name',
    'rds-iam-doctor',
  ];
  const body = Buffer.concat([int32(PROTOCOL_3_0), ...params.map(cstring), Buffer.from([0])]);
  conn.write(Buffer.concat([int32(body.length + 4), body]));
  let method: string | undefined;
  let serverVersion: string | undefined;
  let authenticated = false;
  for (;;) {
    const { type, body: payload } = await readMessage(conn);
    if (type === 'R') {
      const code = payload.readInt32BE(0);
      if (code === 0) {
        authenticated = true;
        continue;
      }
      method = AUTH_METHODS[code] ?? `authentication request ${code}`;
      if (code === 3) {
        conn.write(message('p', cstring(token)));
        continue;
      }
      // Anything but a cleartext password request: the user is not an IAM user (or this is not
      // RDS). The token is not sent.
      if (code === 10) {
        const mechanisms = payload.subarray(4).toString('utf8').split('\0').filter(Boolean);
        method = `SASL (${mechanisms.join(', ')})`;
      }
      return { outcome: 'not-iam', method, ...(serverVersion ? { serverVersion } : {}) };
    }
    if (type === 'E') {
      const fields = errorFields(payload);
      return {
        outcome: 'rejected',
        ...(method ? { method } : {}),
        error: {
          ...(fields.C ? { code: fields.C } : {}),
          message: fields.M ?? 'the server refused the login',
        },
      };
    }
    if (type === 'S') {
      const [name, value] = payload.toString('utf8').split('\0');
      if (name === 'server_version') serverVersion = value;
      continue;
    }
    if (type === 'Z') {
      if (!authenticated)
        return { outcome: 'error', error: { message: 'ReadyForQuery before authentication' } };
      return {
        outcome: method === undefined ? 'no-password' : 'accepted',
        method: method ?? AUTH_METHODS[0],
        ...(serverVersion ? { serverVersion } : {}),
      };
    }
    // BackendKeyData ('K'), NoticeResponse ('N'), NegotiateProtocolVersion ('v'): nothing to do.
  }
}

async function readMessage(conn: ProbeConnection): Promise<{ type: string; body: Buffer }> {
  const header = await conn.read(5);
  const type = String.fromCharCode(header[0] ?? 0);
  const length = header.readInt32BE(1);
  if (length < 4 || length > MAX_MESSAGE) {
    throw new Error(
      `malformed message from the server (type ${JSON.stringify(type)}, length ${length}): is this a PostgreSQL server?`,
    );
  }
  return { type, body: await conn.read(length - 4) };
}

function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const key = String.fromCharCode(body[offset] ?? 0);
    const end = body.indexOf(0, offset + 1);
    if (end < 0) break;
    fields[key] = body.subarray(offset + 1, end).toString('utf8');
    offset = end + 1;
  }
  return fields;
}

function firstColumn(body: Buffer): string | undefined {
  if (body.readInt16BE(0) < 1) return undefined;
  const length = body.readInt32BE(2);
  return length < 0 ? undefined : body.subarray(6, 6 + length).toString('utf8');
}

function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}

function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`, 'utf8');
}

function message(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), int32(body.length + 4), body]);
}
