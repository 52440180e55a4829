import net from 'node:net';
import {
  AuthCode,
  acceptPostgresStartup,
  authRequest,
  errorResponse,
  FrameReader,
  LoginEnded,
  LoginSession,
  loginPostgres,
  negotiateProtocolVersion,
  noEncryption,
  noUserName,
  type PostgresLoginOutcome,
  type PostgresPasswordMethod,
  PostgresProtocolError,
  pamAuthenticationFailed,
  passwordAuthenticationFailed,
  readMessage,
  simpleQuery,
  unsupportedProtocol,
} from '@rds-iam/wire';
import type { ConnectionContext, VerifyResult } from './context.js';

/*
 * PostgreSQL front end (protocol 3.0): https://www.postgresql.org/docs/current/protocol-flow.html
 *
 * client                      emulator                         upstream
 *   SSLRequest ------------->  'S', TLS handshake
 *   StartupMessage --------->  AuthenticationCleartextPassword
 *   PasswordMessage(token) ->  verify token
 *                              StartupMessage (same params) --> trust / cleartext / md5 / SCRAM
 *   <------------------------- AuthenticationOk, ParameterStatus..., ReadyForQuery (relayed)
 *   <=========================  bytes relayed both ways  ======================================>
 *
 * The wire protocol itself (start-up negotiation, the login exchange, refusals) is @rds-iam/wire's;
 * this file is the emulator's decisions: verify the token, log in upstream, report the outcome.
 */

/** Upstream is trusted more than clients, but a runaway handshake message is still a bug. */
const MAX_UPSTREAM_MESSAGE_BYTES = (1 << 20) + 1;

/** The upstream login could not be answered: the emulator's configuration, not the client's token. */
class UpstreamAuthError extends Error {}

/**
 * The PostgreSQL front end of the emulator: owns `socket` from here on. Answers SSLRequest with `S`
 * and TLS on `ctx.secureContext` (direct TLS too), GSSENCRequest with `N`, forwards CancelRequest
 * to upstream verbatim, asks for the token with AuthenticationCleartextPassword, checks it with
 * `ctx.verify`, and then logs in upstream as the same user (trust, cleartext, md5 or SCRAM-SHA-256)
 * and, once upstream is ready for queries, relays bytes both ways from upstream's AuthenticationOk
 * on. An upstream refusal (no such role, wrong upstream password) reaches the client as SQLSTATE
 * 08004 with upstream's message, never as 28P01, so clients don't take it for a bad token; an
 * unreachable upstream as 08006. Each login is reported once through `ctx.onLogin`, with its final
 * outcome: accepted once the upstream session is up, or refused (`upstream-refused`,
 * `upstream-unreachable` when the token was good but upstream was not). Rejections read as on RDS:
 * `FATAL 28P01 PAM authentication failed for user "u"`. Never throws.
 *
 * @example
 * ```ts
 * import net from 'node:net';
 * const server = net.createServer((socket) => handlePostgresConnection(socket, ctx));
 * ```
 */
export function handlePostgresConnection(socket: net.Socket, ctx: ConnectionContext): void {
  try {
    new PostgresFrontEnd(socket, ctx).start();
  } catch {
    socket.destroy();
  }
}

class PostgresFrontEnd {
  readonly #ctx: ConnectionContext;
  readonly #session: LoginSession;
  #waitingForUpstream = false;
  #upstreamTimedOut = false;
  #user = '';

  constructor(socket: net.Socket, ctx: ConnectionContext) {
    this.#ctx = ctx;
    this.#session = new LoginSession(socket, ctx.handshakeTimeoutMs, this.#handshakeExpired);
  }

  start(): void {
    this.#run().catch(() => this.#session.close());
  }

  /** The handshake took too long: when it is the upstream server that has not answered, say so. */
  readonly #handshakeExpired = (): void => {
    if (!this.#waitingForUpstream) {
      this.#session.close();
      return;
    }
    this.#upstreamTimedOut = true;
    this.#session.upstream?.destroy();
  };

  async #run(): Promise<void> {
    try {
      await this.#login();
    } catch (err) {
      // LoginEnded: the client has its answer. Anything else (garbage, closed, TLS failure): drop.
      if (!(err instanceof LoginEnded)) this.#session.close();
    }
  }

  async #login(): Promise<void> {
    const ctx = this.#ctx;
    const session = this.#session;
    const started = await acceptPostgresStartup(session.raw, {
      secureContext: ctx.secureContext,
      maxPacketBytes: ctx.maxHandshakePacketBytes + 1,
      onTls: (secure) => {
        session.client = secure;
      },
    });
    const client = started.reader;
    const request = started.request;
    if (request.kind === 'cancel') {
      this.#forwardCancel(request.packet);
      return;
    }
    if (request.major !== 3)
      return session.finish(unsupportedProtocol(request.major, request.minor));
    const params = request.params;
    const user = params.get('user');
    if (user === undefined || user === '') return session.finish(noUserName());
    this.#user = user;
    if (ctx.requireTls && !started.tls) {
      // RDS: `hostssl ... +rds_iam pam` in pg_hba.conf; the token is never asked for in clear.
      this.#report({
        ok: false,
        user,
        reason: 'tls-required',
        detail: 'the client did not negotiate TLS; IAM authentication requires it',
      });
      const host = session.raw.remoteAddress ?? 'unknown';
      return session.finish(noEncryption(host, user, params.get('database') ?? user));
    }
    // We speak 3.0: tell a client that asked for more, as a 3.0 server does, before authentication.
    if (request.minor !== 0 || request.unsupported.length > 0) {
      session.write(negotiateProtocolVersion(request.unsupported));
    }
    session.write(authRequest(AuthCode.CLEARTEXT));

    const password = await readMessage(client);
    if (password.type !== 'p') throw new PostgresProtocolError('expected a password message');
    const end = password.body.indexOf(0);
    if (end !== password.body.length - 1) {
      return session.finish(errorResponse('FATAL', '08P01', 'invalid password packet size'));
    }
    let result: VerifyResult;
    try {
      result = ctx.verify(password.body.toString('utf8', 0, end), user, {
        address: session.raw.remoteAddress,
        tls: started.tls,
      });
    } catch {
      result = { ok: false, user, reason: 'malformed', detail: 'verification failed' };
    }
    if (!result.ok) {
      this.#report(result);
      return session.finish(pamAuthenticationFailed(user));
    }
    // Pipelined queries wait in the client reader until the relay: one that floods it is dropped
    // there (its reader refuses to detach), one that leaves ends the session at once.
    const outcome = await this.#loginUpstream(params);
    const upstream = session.upstream;
    if (!upstream || outcome.kind !== 'ready') return this.#refuseUpstream(outcome);
    const upReader = this.#upstreamReader;
    if (ctx.requireIamGrant && upReader) await this.#checkGrant(upReader, upstream);
    // Before the login counts: a client that flooded its reader meanwhile is dropped, not relayed.
    const fromClient = client.detach();
    this.#report(result);
    session.startRelay(
      Buffer.concat([outcome.handshake, upReader?.detach() ?? Buffer.alloc(0)]),
      fromClient,
    );
  }

  #upstreamReader: FrameReader | undefined;

  /** Logs in upstream as the client's user (or the configured one), with the client's parameters. */
  async #loginUpstream(clientParams: ReadonlyMap<string, string>): Promise<PostgresLoginOutcome> {
    const { host, port } = this.#ctx.upstream;
    const session = this.#session;
    const up = net.connect({ host, port });
    session.upstream = up;
    this.#ctx.trackSocket?.(up);
    up.setNoDelay(true);
    let upError: Error | undefined;
    up.on('error', (err: Error) => {
      upError ??= err;
    });
    const reader = new FrameReader(up, MAX_UPSTREAM_MESSAGE_BYTES);
    this.#upstreamReader = reader;
    const params = new Map(clientParams);
    params.set('user', this.#upstreamUser());
    this.#waitingForUpstream = true;
    try {
      return await loginPostgres(reader, (b) => up.write(b), {
        params,
        password: (method) => this.#upstreamPassword(method),
      });
    } catch (err) {
      if (session.closed) throw new LoginEnded();
      if (err instanceof UpstreamAuthError || err instanceof PostgresProtocolError) {
        return this.#upstreamFailed(
          'upstream-refused',
          '08004',
          `the upstream server ${err.message}`,
        );
      }
      const why = this.#upstreamTimedOut
        ? `the upstream server ${host}:${port} did not answer within ${this.#ctx.handshakeTimeoutMs} ms`
        : upError
          ? `the emulator could not reach the upstream server ${host}:${port}: ${upError.message}`
          : `the upstream server ${host}:${port} closed the connection during authentication`;
      return this.#upstreamFailed('upstream-unreachable', '08006', why);
    } finally {
      this.#waitingForUpstream = false;
    }
  }

  /** Reports an upstream failure of a good token as the login's outcome, and tells the client. */
  #upstreamFailed(
    reason: 'upstream-refused' | 'upstream-unreachable',
    code: string,
    message: string,
  ): never {
    this.#report({ ok: false, user: this.#user, reason, detail: message });
    this.#session.finish(errorResponse('FATAL', code, message));
  }

  #refuseUpstream(outcome: PostgresLoginOutcome): never {
    const upstreamUser = this.#upstreamUser();
    if (outcome.kind === 'unanswered') {
      return this.#upstreamFailed(
        'upstream-refused',
        '08004',
        `the upstream server asks for an authentication method the emulator does not speak (${outcome.method})`,
      );
    }
    if (outcome.kind !== 'error') throw new LoginEnded();
    const code = outcome.fields.get('C') ?? 'XX000';
    const message = outcome.fields.get('M') ?? 'unknown error';
    if (code === '28P01' || code === '28000') {
      // Not the client's token: say so, and not with the code clients treat as a bad token.
      return this.#upstreamFailed(
        'upstream-refused',
        '08004',
        `the upstream server rejected the emulator's login as "${upstreamUser}": ${message}`,
      );
    }
    // Anything else (no such database, too many connections) reads as it would on RDS.
    this.#report({
      ok: false,
      user: this.#user,
      reason: 'upstream-refused',
      detail: `the upstream server refused the session of "${upstreamUser}": ${code} ${message}`,
    });
    this.#session.finish(outcome.raw);
  }

  /** The session is up: before the client gets it, ask whether the user has rds_iam. */
  async #checkGrant(reader: FrameReader, upstream: net.Socket): Promise<void> {
    const user = this.#user;
    const answer = await simpleQuery(reader, (b) => upstream.write(b), grantQuery(user));
    if (answer.rows.length > 0 && answer.error === undefined) return;
    this.#report({
      ok: false,
      user,
      reason: 'not-iam-user',
      detail: answer.error
        ? `could not read the rds_iam membership of "${user}" upstream: ${answer.error}`
        : `"${user}" is not a member of rds_iam upstream, so RDS would ask for its password (GRANT rds_iam TO "${user}")`,
    });
    // On RDS a user without rds_iam logs in with its password; the token is not that password.
    this.#session.finish(passwordAuthenticationFailed(user));
  }

  #upstreamUser(): string {
    return this.#ctx.upstream.user ?? this.#user;
  }

  #upstreamPassword(method: PostgresPasswordMethod): string {
    const auth = this.#ctx.upstream.auth;
    if (auth.kind !== 'password') {
      const name = method === 'cleartext' ? 'password' : method;
      throw new UpstreamAuthError(
        `asks for a password (${name}) but the emulator has none: give upstream auth { kind: 'password', password }`,
      );
    }
    return auth.password;
  }

  #forwardCancel(packet: Buffer): void {
    const { host, port } = this.#ctx.upstream;
    // Not the session's upstream: the cancel is delivered even if the client hangs up at once.
    const up = net.connect({ host, port });
    this.#ctx.trackSocket?.(up);
    up.on('connect', () => up.end(packet));
    up.on('error', () => up.destroy());
    // PostgreSQL answers a cancel request by closing the connection; so do we, once it has.
    up.on('close', this.#session.close);
    up.setTimeout(this.#ctx.handshakeTimeoutMs, () => up.destroy());
  }

  #report(result: VerifyResult): void {
    try {
      this.#ctx.onLogin(result);
    } catch {
      // A listener's failure must not break the connection.
    }
  }
}

/** Whether `user` is a member of `rds_iam` (no row when either role is missing). */
function grantQuery(user: string): string {
  const name = user.replaceAll("'", "''");
  return `SELECT 1 FROM pg_catalog.pg_roles u, pg_catalog.pg_roles r WHERE u.rolname = '${name}' AND r.rolname = 'rds_iam' AND pg_catalog.pg_has_role(u.oid, r.oid, 'MEMBER')`;
}
