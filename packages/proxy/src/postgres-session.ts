import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  AuthCode,
  acceptPostgresStartup,
  authRequest,
  errorResponse,
  md5Password,
  passwordAuthenticationFailed,
  readMessage,
  unsupportedProtocol,
} from '@rds-iam/wire';
import type { ProxyRefusalReason } from './log.js';
import type { SessionEnv } from './session-env.js';
import { dial, postgresTls, postgresUpstream, UpstreamFailure } from './upstream.js';

/*
 * The proxy's PostgreSQL session:
 *
 *   local client                 proxy                              RDS
 *     SSLRequest -------------->  'N' (loopback: no TLS needed)
 *     StartupMessage ---------->  [AuthenticationMD5Password: the local password, when set]
 *                                 mint (cache) + TCP + SSLRequest + TLS verify-full
 *                                 StartupMessage(user = IAM user) ------------------>
 *                                                 <-- AuthenticationCleartextPassword
 *                                 token ------------------------------------------->
 *     <-------------------------  AuthenticationOk ... ReadyForQuery (upstream's, relayed)
 *     <=======================  bytes relayed both ways, unparsed  =====================>
 */

/** SQLSTATE a client gets when the proxy could not open its session, by reason. */
const SQLSTATE: Record<ProxyRefusalReason, string> = {
  'bad-handshake': '08P01',
  'local-password': '28P01',
  credentials: '08001',
  'upstream-unreachable': '08006',
  'upstream-tls': '08001',
  'token-rejected': '28P01',
  'upstream-refused': '08004',
  stopping: '57P01',
};

/**
 * Serves one local PostgreSQL client: its start-up (no TLS on offer, the local password when set),
 * then the upstream login with a fresh token, then the relay. Resolves when the session is relaying
 * or over; never rejects with anything but the session's own end.
 */
export async function servePostgres(env: SessionEnv): Promise<void> {
  const { session, options } = env;
  const started = await acceptPostgresStartup(session.raw, { maxPacketBytes: 65_536 });
  const client = started.reader;
  if (started.request.kind === 'cancel') {
    await forwardCancel(env, started.request.packet);
    session.close();
    return;
  }
  const request = started.request;
  if (request.major !== 3) {
    env.refuse('bad-handshake', `protocol ${request.major}.${request.minor}`);
    return session.finish(unsupportedProtocol(request.major, request.minor));
  }
  const params = request.params;
  const clientUser = params.get('user') ?? '';
  if (options.localPassword !== undefined) {
    const salt = randomBytes(4);
    session.write(authRequest(AuthCode.MD5, salt));
    const answer = await readMessage(client);
    const expected = Buffer.from(`${md5Password(options.localPassword, clientUser, salt)}\0`);
    if (
      answer.type !== 'p' ||
      answer.body.length !== expected.length ||
      !timingSafeEqual(answer.body, expected)
    ) {
      env.refuse('local-password', `wrong local password for "${clientUser}"`);
      return session.finish(passwordAuthenticationFailed(clientUser));
    }
  }
  // The IAM user logs in, whatever name the client gave: the token is for that user only.
  params.set('user', env.connector.user);
  if (!params.has('database') && options.database !== undefined) {
    params.set('database', options.database);
  }
  env.upstreamPhase((message) => errorResponse('FATAL', '08006', message));
  let upstream: Awaited<ReturnType<typeof postgresUpstream>>;
  try {
    upstream = await postgresUpstream(env.upstream, params);
  } catch (err) {
    if (!(err instanceof UpstreamFailure) || session.closed) throw err;
    env.refuse(err.reason, err.message);
    return session.finish(
      err.reason === 'upstream-refused' && err.raw
        ? err.raw
        : errorResponse('FATAL', SQLSTATE[err.reason], `rds-iam proxy: ${err.message}`),
    );
  }
  // Before the login counts: a client that flooded its reader meanwhile is dropped, not relayed.
  const fromClient = client.detach();
  env.loggedIn(clientUser);
  session.startRelay(Buffer.concat([upstream.handshake, upstream.reader.detach()]), fromClient);
}

/**
 * A CancelRequest names a session by upstream's BackendKeyData, which the client got relayed: it
 * goes to upstream as it came, over TLS as RDS wants it, and the connection is closed once sent.
 */
async function forwardCancel(env: SessionEnv, packet: Buffer): Promise<void> {
  // Not the session's upstream: the client hangs up right after sending, and the cancel must still
  // be delivered. Every step is bounded by the upstream timeout.
  const ctx = { ...env.upstream, track: () => {} };
  try {
    const { socket } = await postgresTls(ctx, await dial(ctx));
    // PostgreSQL answers a cancel by closing the connection.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), ctx.timeoutMs);
      timer.unref();
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end(packet);
    });
  } catch {
    // A cancel is best effort, as in PostgreSQL itself: the client gets no answer either way.
  }
}
