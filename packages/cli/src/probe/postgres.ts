import {
  loginPostgres,
  PostgresProtocolError,
  sendSslRequest,
  simpleQuery,
  TERMINATE,
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

/**
 * A PostgreSQL login as RDS sees it: TCP, SSLRequest, TLS verified, StartupMessage, the token as
 * the cleartext password, then `SELECT` of the server clock. The token is sent only over a verified
 * TLS connection and only when the server asks for a cleartext password.
 */
export async function probePostgres(options: ProbeOptions): Promise<ProbeResult> {
  const started = performance.now();
  const { socket, result: tcp } = await connectTcp(options.host, options.port, options.timeoutMs);
  const result: ProbeResult = { tcp };
  if (!socket) return result;
  const conn = new ProbeConnection(socket, options.timeoutMs, started);
  let phase: ProbePhase = 'tls';
  try {
    const answer = await sendSslRequest(conn.reader, conn.write, conn.timeoutMs);
    if (answer !== 'S') {
      result.tls = {
        ok: false,
        offered: false,
        message:
          answer === 'N'
            ? "the server answered the SSLRequest with 'N': it does not offer TLS"
            : `the server answered the SSLRequest with ${JSON.stringify(answer)}, not 'S' or 'N': is this a PostgreSQL server?`,
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
    const clock = await simpleQuery(
      conn.reader,
      conn.write,
      'SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint::text',
      conn.timeoutMs,
    );
    if (clock.error !== undefined) throw new Error(clock.error);
    const received = Date.now();
    const value = clock.rows[0]?.[0];
    if (value !== undefined && value !== null) {
      result.serverTime = {
        serverMs: Number(value),
        localMs: (sent + received) / 2,
        roundTripMs: received - sent,
      };
    }
    conn.write(TERMINATE);
  } catch (err) {
    recordFailure(
      result,
      phase,
      conn.failure(err, (e) =>
        e instanceof PostgresProtocolError
          ? `${e.message}: is this a PostgreSQL server?`
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

async function login(
  conn: ProbeConnection,
  options: ProbeOptions,
  token: string,
): Promise<LoginResult> {
  const outcome = await loginPostgres(conn.reader, conn.write, {
    params: new Map([
      ['user', options.user],
      ['database', options.database ?? 'postgres'],
      ['application_name', 'rds-iam-doctor'],
    ]),
    // Anything but a cleartext password request: the user is not an IAM user (or this is not
    // RDS). The token is not sent.
    password: (method) => (method === 'cleartext' ? token : undefined),
    timeoutMs: conn.timeoutMs,
  });
  const method = (m: string | undefined): string | undefined =>
    m === undefined
      ? undefined
      : m === 'cleartext'
        ? 'cleartext password'
        : m === 'md5'
          ? 'MD5 password'
          : `SASL (${m})`;
  switch (outcome.kind) {
    case 'unanswered':
      return { outcome: 'not-iam', method: outcome.method };
    case 'error': {
      const asked = method(outcome.method);
      const code = outcome.fields.get('C');
      return {
        outcome: 'rejected',
        ...(asked ? { method: asked } : {}),
        error: {
          ...(code ? { code } : {}),
          message: outcome.fields.get('M') ?? 'the server refused the login',
        },
      };
    }
    case 'ready':
      return {
        outcome: outcome.method === undefined ? 'no-password' : 'accepted',
        method: method(outcome.method) ?? 'none (trust)',
        ...(outcome.serverVersion ? { serverVersion: outcome.serverVersion } : {}),
      };
  }
}
