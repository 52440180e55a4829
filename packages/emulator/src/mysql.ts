import net from 'node:net';
import {
  acceptMysqlHandshake,
  accessDenied,
  authSwitchRequest,
  CR_CONN_HOST_ERROR,
  CR_SERVER_LOST,
  clientHostOf,
  ER_NOT_SUPPORTED_AUTH_MODE,
  ER_UNKNOWN_ERROR,
  errPacket,
  frame,
  type Greeting,
  type HandshakeResponse,
  isAccessDenied,
  LoginEnded,
  LoginSession,
  loginMysql,
  MysqlProtocolError,
  MysqlRefusal,
  PacketReader,
  parseErrPacket,
  readGreeting,
  relayedGreeting,
  relayedResponse,
  secureTransportRequired,
  UnfitGreetingError,
  type UpstreamGreeting,
} from '@rds-iam/wire';
import type { ConnectionContext, VerifyResult } from './context.js';

/*
 * The MySQL / MariaDB front end of the emulator.
 *
 *   client                      emulator                         upstream (real server)
 *                               ── TCP connect ───────────────────▶
 *                               ◀── greeting (seq 0) ─────────────
 *     ◀── greeting (seq 0) ───  same connection id, version, capabilities ∩ ours, + CLIENT_SSL
 *     ── SSLRequest (1) ─────▶  TLS upgrade (optional)
 *     ── HandshakeResponse ──▶  user, database, charset, attributes kept for upstream
 *     ◀── AuthSwitch (n+1) ──   mysql_clear_password, always, as RDS does for IAM users
 *     ── token (n+2) ────────▶  ctx.verify
 *                               ── HandshakeResponse41 (1) ──────▶ same user (or upstream.user)
 *                               ◀── OK / ERR / AuthSwitch … ──────
 *     ◀── upstream's OK or ERR with the client's next sequence id (n+3); ctx.onLogin: the outcome
 *     ◀═════════════ raw bytes both ways ═════════════════════════▶
 *
 * The protocol (greeting, handshake, login exchange, refusals) is @rds-iam/wire's; this file is the
 * emulator's decisions: verify the token, log in upstream, report the outcome.
 */

/** The greeting's auth plugin; RDS MySQL / MariaDB announce it too before switching IAM users. */
const GREETING_AUTH_PLUGIN = 'mysql_native_password';
/** What RDS switches IAM users to: the token travels as a cleartext password, hence TLS. */
const IAM_AUTH_PLUGIN = 'mysql_clear_password';
/** Bound on upstream handshake packets: upstream is trusted, but a stray port is not. */
const MAX_UPSTREAM_HANDSHAKE_PACKET = 1 << 20;

/**
 * Serves one client connection of the MySQL / MariaDB flavour of the emulator: greets it with the
 * upstream server's greeting (capabilities narrowed to what the relay supports, plus CLIENT_SSL),
 * optionally upgrades to TLS, switches the client to `mysql_clear_password`, verifies the IAM token
 * it sends with `ctx.verify`, then logs in upstream as the same user, reports the login's final
 * outcome through `ctx.onLogin` (accepted once upstream let the user in; `upstream-refused` or
 * `upstream-unreachable` when upstream did not) and relays bytes both ways until either side closes.
 *
 * Refusals, as RDS words them:
 * - a rejected token: ERR 1045 / 28000 `Access denied for user '<user>'@'<client ip>' (using password: YES)`;
 * - `ctx.requireTls` and the client did not upgrade: ERR 3159 / 08004 `Connections using insecure
 *   transport are prohibited while --require_secure_transport=ON.` (what RDS answers when
 *   `require_secure_transport` is on), sent before the token is asked for, so it never crosses the
 *   wire in the clear; reported to `ctx.onLogin` with reason `tls-required`.
 *
 * Never throws; every failure closes both sockets and clears the handshake timer.
 *
 * @example
 * ```ts
 * net.createServer((socket) => handleMysqlConnection(socket, ctx)).listen(0, '127.0.0.1');
 * ```
 */
export function handleMysqlConnection(socket: net.Socket, ctx: ConnectionContext): void {
  try {
    new MysqlFrontEnd(socket, ctx).start();
  } catch {
    socket.destroy();
  }
}

class MysqlFrontEnd {
  readonly #ctx: ConnectionContext;
  readonly #session: LoginSession;
  readonly #where: string;
  #upstreamError: string | undefined;
  #waitingForUpstream = false;

  constructor(socket: net.Socket, ctx: ConnectionContext) {
    this.#ctx = ctx;
    this.#where = `${ctx.upstream.host}:${ctx.upstream.port}`;
    this.#session = new LoginSession(socket, ctx.handshakeTimeoutMs, this.#handshakeExpired);
  }

  start(): void {
    this.#run().catch(() => this.#session.close());
  }

  /**
   * The handshake took too long. When it is the upstream server that has not answered, its read
   * fails with that reason, so the client is told why rather than just hung up on.
   */
  readonly #handshakeExpired = (): void => {
    const upstream = this.#session.upstream;
    if (!this.#waitingForUpstream || !upstream) {
      this.#session.close();
      return;
    }
    this.#upstreamError = `no answer within ${this.#ctx.handshakeTimeoutMs} ms`;
    setTimeout(this.#session.close, this.#ctx.handshakeTimeoutMs).unref();
    upstream.destroy();
  };

  async #run(): Promise<void> {
    try {
      await this.#login();
    } catch (err) {
      if (err instanceof MysqlRefusal) {
        try {
          this.#session.finish(frame(err.seq, err.payload));
        } catch {
          // LoginEnded: the refusal is on its way.
        }
        return;
      }
      // LoginEnded: the client has its answer. Anything else (closed, oversize, TLS failure): drop.
      if (!(err instanceof LoginEnded)) this.#session.close();
    }
  }

  /** Reads one packet from the upstream server, marking the wait as the upstream's. */
  async #fromUpstream<T>(read: () => Promise<T>): Promise<T> {
    this.#waitingForUpstream = true;
    try {
      return await read();
    } finally {
      this.#waitingForUpstream = false;
    }
  }

  async #login(): Promise<void> {
    const ctx = this.#ctx;
    const session = this.#session;

    // ---- upstream greeting ----
    const upstream = net.connect({ host: ctx.upstream.host, port: ctx.upstream.port });
    session.upstream = upstream;
    ctx.trackSocket?.(upstream);
    upstream.setNoDelay(true);
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      this.#upstreamError ??= err.code ?? err.message;
    });
    const upstreamReader = new PacketReader(upstream, MAX_UPSTREAM_HANDSHAKE_PACKET);
    const up = await this.#upstreamGreeting(upstreamReader);

    // ---- greeting, TLS, the client's login ----
    const greeting = relayedGreeting(up, {
      tls: true,
      authPlugin: GREETING_AUTH_PLUGIN,
      ...(ctx.serverVersion !== undefined ? { serverVersion: ctx.serverVersion } : {}),
    });
    const { side, response } = await acceptMysqlHandshake(session.raw, {
      greeting,
      secureContext: ctx.secureContext,
      maxPacketBytes: ctx.maxHandshakePacketBytes,
      onTls: (secure) => {
        session.client = secure;
      },
    });
    const user = response.user;
    const clientHost = clientHostOf(session.raw.remoteAddress);
    if (ctx.requireTls && !side.tls) {
      this.#report({
        ok: false,
        user,
        reason: 'tls-required',
        detail: 'the client logged in without TLS (no SSLRequest) and the emulator requires TLS',
      });
      throw side.refusal(secureTransportRequired());
    }

    // ---- the token: always through mysql_clear_password, whatever the client sent first ----
    side.send(authSwitchRequest(IAM_AUTH_PLUGIN));
    let tokenBytes = (await side.next()).payload;
    if (tokenBytes.length > 0 && tokenBytes[tokenBytes.length - 1] === 0)
      tokenBytes = tokenBytes.subarray(0, -1);
    const token = tokenBytes.toString('utf8');

    let verdict: VerifyResult;
    try {
      verdict = ctx.verify(token, user, { address: session.raw.remoteAddress, tls: side.tls });
    } catch (err) {
      // The contract says verify never throws; if it does, refuse rather than crash or let in.
      verdict = { ok: false, user, reason: 'malformed', detail: `verifier failed: ${String(err)}` };
    }
    if (!verdict.ok) {
      this.#report(verdict);
      throw side.refusal(accessDenied(user, clientHost));
    }

    // ---- log in upstream as that user; its outcome is the login's ----
    const final = await this.#loginUpstream(up, greeting, response, upstreamReader);
    const upstreamUser = ctx.upstream.user ?? user;
    if (final[0] !== 0x00) {
      const err = parseErrPacket(final);
      if (
        ctx.requireIamGrant === true &&
        ctx.upstream.auth.kind === 'trust' &&
        isAccessDenied(final)
      ) {
        // A user logged in with a token on RDS is IDENTIFIED WITH AWSAuthenticationPlugin: no
        // password of its own. Upstream wants one (or has no such user): RDS answers 1045.
        this.#report({
          ok: false,
          user,
          reason: 'not-iam-user',
          detail: `the upstream server refused a password-less login as '${upstreamUser}': the user has a password (on RDS: IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS') or does not exist`,
        });
        throw side.refusal(accessDenied(user, clientHost));
      }
      this.#report({
        ok: false,
        user,
        reason: err.errno === CR_SERVER_LOST ? 'upstream-unreachable' : 'upstream-refused',
        detail: err.message,
      });
      throw side.refusal(upstreamRefusal(final, upstreamUser));
    }
    // Before the login counts: a client that flooded its reader meanwhile is dropped, not relayed.
    const fromClient = side.reader.detach();
    this.#report(verdict);

    // ---- relay ----
    side.send(final);
    this.#session.startRelay(upstreamReader.detach(), fromClient);
  }

  /** Upstream's greeting, or a refusal that says why there is none. */
  async #upstreamGreeting(reader: PacketReader): Promise<Greeting> {
    let first: UpstreamGreeting;
    try {
      first = await this.#fromUpstream(() => readGreeting(reader));
    } catch (err) {
      throw new MysqlRefusal(
        0,
        err instanceof UnfitGreetingError
          ? errPacket(
              ER_UNKNOWN_ERROR,
              'HY000',
              `rds-iam emulator: upstream ${this.#where} ${err.message}`,
            )
          : errPacket(
              CR_CONN_HOST_ERROR,
              'HY000',
              `rds-iam emulator: cannot reach the upstream server ${this.#where} (${this.#upstreamError ?? 'closed'})`,
            ),
      );
    }
    // Upstream refused us before any handshake (too many connections, host blocked): pass it on.
    if (first.kind === 'refused') throw new MysqlRefusal(0, first.payload);
    return first.greeting;
  }

  /**
   * Logs in upstream with the client's login, adjusted: its capabilities within what was announced
   * minus CLIENT_SSL (upstream is plain TCP), and our own auth data. Returns the payload of the final
   * OK or ERR packet to pass to the client; an unsupported exchange ends as an ERR payload too.
   */
  async #loginUpstream(
    up: Greeting,
    announced: Greeting,
    client: HandshakeResponse,
    reader: PacketReader,
  ): Promise<Buffer> {
    const ctx = this.#ctx;
    const upstream = this.#session.upstream;
    if (!upstream) throw new LoginEnded();
    const password = ctx.upstream.auth.kind === 'password' ? ctx.upstream.auth.password : '';
    const unsupported = (what: string): Buffer =>
      errPacket(ER_NOT_SUPPORTED_AUTH_MODE, '08004', `rds-iam emulator: ${what}`);
    try {
      const outcome = await this.#fromUpstream(() =>
        loginMysql(reader, (b) => upstream.write(b), {
          greeting: up,
          response: relayedResponse(client, announced, {
            ssl: false,
            ...(ctx.upstream.user !== undefined ? { user: ctx.upstream.user } : {}),
          }),
          seq: 1,
          secure: false,
          // Upstream's choice for this user (even mysql_clear_password for a PAM account): it is
          // the operator's own server.
          password: () => password,
        }),
      );
      if (this.#session.closed) throw new LoginEnded();
      if (outcome.kind === 'unanswered') {
        return unsupported(
          `upstream ${this.#where} asks for the ${outcome.plugin} auth plugin, which the emulator does not speak`,
        );
      }
      return outcome.payload;
    } catch (err) {
      if (this.#session.closed || err instanceof LoginEnded) throw new LoginEnded();
      if (err instanceof MysqlProtocolError) {
        return unsupported(`${err.message} from ${this.#where} during authentication`);
      }
      return errPacket(
        CR_SERVER_LOST,
        'HY000',
        `rds-iam emulator: lost the upstream server ${this.#where} during authentication (${this.#upstreamError ?? 'closed'})`,
      );
    }
  }

  #report(result: VerifyResult): void {
    try {
      this.#ctx.onLogin(result);
    } catch {
      // A listener's failure must not take the connection (or the process) down.
    }
  }
}

/**
 * Upstream's refusal of the emulator's own login, as the client gets it. An `Access denied` there is
 * not about the client's token (that was accepted): passing 1045 on would make drivers mint a new
 * token, and its `(using password: NO)` misleads. Like the PostgreSQL front end, say what it is,
 * with a code clients don't take for a bad token. Other errors pass unchanged.
 */
function upstreamRefusal(err: Buffer, user: string): Buffer {
  if (!isAccessDenied(err)) return err;
  return errPacket(
    ER_NOT_SUPPORTED_AUTH_MODE,
    '08004',
    `rds-iam emulator: the upstream server rejected the emulator's login as '${user}': no such user upstream, or it needs a password other than the upstream URL's`,
  );
}
