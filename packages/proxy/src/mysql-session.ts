import { timingSafeEqual } from 'node:crypto';
import {
  acceptMysqlHandshake,
  accessDenied,
  authSwitchRequest,
  CR_CONN_HOST_ERROR,
  CR_SERVER_LOST,
  clientHostOf,
  ER_NOT_SUPPORTED_AUTH_MODE,
  errPacket,
  frame,
  MysqlRefusal,
  type MysqlServerSide,
  nativePasswordAuth,
  relayedGreeting,
  relayedResponse,
} from '@rds-iam/wire';
import type { ProxyRefusalReason } from './log.js';
import type { SessionEnv } from './session-env.js';
import { mysqlUpstream, openMysqlUpstream, UpstreamFailure } from './upstream.js';

/*
 * The proxy's MySQL / MariaDB session:
 *
 *   local client                 proxy                                  RDS
 *                                TCP ------------------------------------>
 *                                <------------------------------------ greeting
 *     <-- greeting (seq 0) ----  upstream's: its connection id, version, capabilities (no SSL)
 *     HandshakeResponse ------>  any plugin (mysql_native_password checks the local password)
 *                                SSLRequest, TLS verify-full, HandshakeResponse(IAM user) -->
 *                                <----------------- AuthSwitchRequest(mysql_clear_password)
 *                                token ---------------------------------->
 *     <-- upstream's OK -------  <------------------------------------ OK
 *     <=======================  bytes relayed both ways, unparsed  ==========================>
 *
 * Whatever the client's own plugin (mysql_native_password as the greeting offers, caching_sha2 for
 * a MySQL 8 client), the proxy answers it: the Prisma schema engine, which cannot send
 * mysql_clear_password, logs in like any other client.
 */

/** The plugin the greeting offers: every client speaks it, and it checks a password without sending it. */
const LOCAL_PLUGIN = 'mysql_native_password';

/** The error number a client gets when the proxy could not open its session, by reason. */
const ERRNO: Record<ProxyRefusalReason, number> = {
  'bad-handshake': 1043,
  'local-password': 1045,
  credentials: CR_CONN_HOST_ERROR,
  'upstream-unreachable': CR_SERVER_LOST,
  'upstream-tls': CR_CONN_HOST_ERROR,
  'token-rejected': 1045,
  'upstream-refused': ER_NOT_SUPPORTED_AUTH_MODE,
  stopping: 1053,
};

function failure(reason: ProxyRefusalReason, message: string): Buffer {
  const state = reason === 'token-rejected' || reason === 'local-password' ? '28000' : 'HY000';
  return errPacket(ERRNO[reason], state, `rds-iam proxy: ${message}`);
}

/**
 * Serves one local MySQL client: greets it with upstream's greeting, takes its login (checking the
 * local password when set), logs in upstream with a fresh token, hands the client upstream's OK and
 * relays.
 */
export async function serveMysql(env: SessionEnv): Promise<void> {
  const { session, options, connector } = env;
  env.upstreamPhase((message) => frame(0, failure('upstream-unreachable', message)));
  let opened: Awaited<ReturnType<typeof openMysqlUpstream>>;
  try {
    opened = await openMysqlUpstream(env.upstream);
  } catch (err) {
    if (!(err instanceof UpstreamFailure) || session.closed) throw err;
    env.refuse(err.reason, err.message);
    return session.finish(frame(0, failure(err.reason, err.message)));
  }
  env.clientPhase();
  const greeting = relayedGreeting(opened.greeting, { tls: false, authPlugin: LOCAL_PLUGIN });
  let side: MysqlServerSide;
  let response: Awaited<ReturnType<typeof acceptMysqlHandshake>>['response'];
  try {
    ({ side, response } = await acceptMysqlHandshake(session.raw, {
      greeting,
      maxPacketBytes: 65_536,
    }));
    if (options.localPassword !== undefined) {
      await checkLocalPassword(side, response, greeting.scramble, options.localPassword);
    }
  } catch (err) {
    if (!(err instanceof MysqlRefusal)) throw err;
    const wrongPassword = err.payload.readUInt16LE(1) === 1045;
    env.refuse(wrongPassword ? 'local-password' : 'bad-handshake', 'refused the local login');
    return session.finish(frame(err.seq, err.payload));
  }

  env.upstreamPhase((message) => frame(side.seq + 1, failure('upstream-unreachable', message)));
  const database = response.database ?? optionalDatabase(options.database);
  let upstream: Awaited<ReturnType<typeof mysqlUpstream>>;
  try {
    upstream = await mysqlUpstream(env.upstream, opened, (g) =>
      // The client's login within what it was offered and what this upstream offers now (a retry
      // dials again), as the IAM user.
      relayedResponse(
        { ...response, database },
        { ...greeting, capabilities: greeting.capabilities & g.capabilities },
        { ssl: connector.tls.sharedSsl !== false, user: connector.user },
      ),
    );
  } catch (err) {
    if (!(err instanceof UpstreamFailure) || session.closed) throw err;
    env.refuse(err.reason, err.message);
    return session.finish(
      frame(
        side.seq + 1,
        err.reason === 'upstream-refused' && err.raw ? err.raw : failure(err.reason, err.message),
      ),
    );
  }
  // Before the login counts: a client that flooded its reader meanwhile is dropped, not relayed.
  const fromClient = side.reader.detach();
  env.loggedIn(response.user);
  side.send(upstream.ok);
  session.startRelay(upstream.reader.detach(), fromClient);
}

function optionalDatabase(name: string | undefined): Buffer | undefined {
  return name === undefined ? undefined : Buffer.from(name, 'utf8');
}

/**
 * The local password, checked as mysql_native_password checks one: the client proves it knows it
 * without sending it. A client that started with another plugin is switched to this one first.
 */
async function checkLocalPassword(
  side: MysqlServerSide,
  response: {
    readonly authPlugin: string | undefined;
    readonly authData: Buffer;
    readonly user: string;
  },
  scramble: Buffer,
  password: string,
): Promise<void> {
  let answer = response.authData;
  if ((response.authPlugin ?? LOCAL_PLUGIN) !== LOCAL_PLUGIN) {
    side.send(authSwitchRequest(LOCAL_PLUGIN, Buffer.concat([scramble, Buffer.from([0])])));
    answer = (await side.next()).payload;
  }
  const expected = nativePasswordAuth(password, scramble);
  if (answer.length !== expected.length || !timingSafeEqual(answer, expected)) {
    throw side.refusal(accessDenied(response.user, clientHostOf(side.socket.remoteAddress)));
  }
}
