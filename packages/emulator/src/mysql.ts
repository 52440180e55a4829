import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { ConnectionContext, VerifyResult } from './context.js';
import {
  authSwitchRequest,
  buildGreeting,
  buildHandshakeResponse,
  Capability,
  cachingSha2Auth,
  cachingSha2FullAuth,
  errPacket,
  frame,
  type Greeting,
  type HandshakeResponse,
  MalformedPacketError,
  MariaDbCapability,
  type MysqlPacket,
  nativePasswordAuth,
  PacketReader,
  parseAuthSwitch,
  parseGreeting,
  parseHandshakeResponse,
} from './mysql-packets.js';

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
 *     ── token (n+2) ────────▶  ctx.verify → ctx.onLogin; reject: ERR 1045, close
 *                               ── HandshakeResponse41 (1) ──────▶ same user (or upstream.user)
 *                               ◀── OK / ERR / AuthSwitch … ──────
 *     ◀── upstream's OK or ERR with the client's next sequence id (n+3)
 *     ◀═════════════ raw bytes both ways ═════════════════════════▶
 *
 * Upstream is dialled before the client is greeted so that everything the client learns from the
 * greeting is true of the server it will end up talking to: the capabilities (a client that
 * negotiated CLIENT_DEPRECATE_EOF with us must get no EOF packets from upstream), MariaDB's extended
 * capabilities, the version string (drivers switch behaviour on "MariaDB" in it) and the connection
 * id (`KILL QUERY <threadId>`, which knex and others use to cancel, must name the real session).
 * After authentication every command restarts sequence ids at 0, so the relay never rewrites a
 * byte.
 */

/**
 * Capabilities the emulator announces when upstream has them. They change only what flows after
 * authentication (relayed untouched, so client and upstream just need to agree) or parts of the
 * handshake the emulator parses and rebuilds itself. Left out on purpose: COMPRESS and
 * ZSTD_COMPRESSION_ALGORITHM (the handshake phase would have to switch framing mid-way; clients
 * fall back to uncompressed), MULTI_FACTOR_AUTHENTICATION (the emulator does the authentication),
 * SSL (added separately: TLS ends at the emulator), and the client-side-only or reserved bits.
 */
const SUPPORTED_CAPABILITIES =
  Capability.LONG_PASSWORD |
  Capability.FOUND_ROWS |
  Capability.LONG_FLAG |
  Capability.CONNECT_WITH_DB |
  Capability.NO_SCHEMA |
  Capability.ODBC |
  Capability.LOCAL_FILES |
  Capability.IGNORE_SPACE |
  Capability.PROTOCOL_41 |
  Capability.INTERACTIVE |
  Capability.IGNORE_SIGPIPE |
  Capability.TRANSACTIONS |
  Capability.RESERVED |
  Capability.SECURE_CONNECTION |
  Capability.MULTI_STATEMENTS |
  Capability.MULTI_RESULTS |
  Capability.PS_MULTI_RESULTS |
  Capability.PLUGIN_AUTH |
  Capability.CONNECT_ATTRS |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  Capability.CAN_HANDLE_EXPIRED_PASSWORDS |
  Capability.SESSION_TRACK |
  Capability.DEPRECATE_EOF |
  Capability.OPTIONAL_RESULTSET_METADATA |
  Capability.QUERY_ATTRIBUTES;

/** MariaDB extended capabilities relayed when upstream offers them: all only shape later traffic. */
const SUPPORTED_MARIADB_CAPABILITIES =
  MariaDbCapability.PROGRESS |
  MariaDbCapability.STMT_BULK_OPERATIONS |
  MariaDbCapability.EXTENDED_METADATA |
  MariaDbCapability.CACHE_METADATA |
  MariaDbCapability.BULK_UNIT_RESULTS;

/** What the emulator needs from both ends: 4.1 protocol and pluggable auth (for the switch). */
const REQUIRED_CAPABILITIES =
  Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH;

/** The greeting's auth plugin; RDS MySQL / MariaDB announce it too before switching IAM users. */
const GREETING_AUTH_PLUGIN = 'mysql_native_password';
/** What RDS switches IAM users to: the token travels as a cleartext password, hence TLS. */
const IAM_AUTH_PLUGIN = 'mysql_clear_password';

/** Bound on upstream handshake packets: upstream is trusted, but a stray port is not. */
const MAX_UPSTREAM_HANDSHAKE_PACKET = 1 << 20;
/** Auth exchanges upstream may take (switch, more data, public key, ...) before we give up. */
const MAX_UPSTREAM_AUTH_ROUNDS = 8;

// Server error codes (include/mysqld_error.h) and the SQLSTATEs servers pair them with.
const ER_ACCESS_DENIED = 1045;
const ER_HANDSHAKE_ERROR = 1043;
const ER_NOT_SUPPORTED_AUTH_MODE = 1251;
const ER_NET_PACKETS_OUT_OF_ORDER = 1156;
const ER_UNKNOWN_ERROR = 1105;
const ER_SECURE_TRANSPORT_REQUIRED = 3159;
/**
 * Client-library numbers for "can't connect" / "lost connection": no server code says "the server
 * behind me is unreachable", and these read right in every driver's error text. Deliberately not
 * 1045, which drivers and `isAuthRejection` treat as "token rejected, mint a new one".
 */
const CR_CONN_HOST_ERROR = 2003;
const CR_SERVER_LOST = 2013;

/**
 * Serves one client connection of the MySQL / MariaDB flavour of the emulator: greets it with the
 * upstream server's greeting (capabilities narrowed to what the relay supports, plus CLIENT_SSL),
 * optionally upgrades to TLS, switches the client to `mysql_clear_password`, verifies the IAM token
 * it sends with `ctx.verify`, reports the verdict through `ctx.onLogin`, then logs in upstream as the
 * same user and relays bytes both ways until either side closes.
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
  new MysqlConnection(socket, ctx).start();
}

/** Thrown inside the handshake to end it; the connection is already answered or closed. */
class HandshakeAbort extends Error {}

class MysqlConnection {
  readonly #raw: net.Socket;
  readonly #ctx: ConnectionContext;
  /** The client as the protocol sees it: `#raw`, or the TLS socket wrapped around it. */
  #client: net.Socket;
  #tls = false;
  #upstream: net.Socket | undefined;
  #upstreamError: string | undefined;
  #awaitingUpstream = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** The client's address as servers print it in `'user'@'host'` (no IPv4-mapped prefix). */
  readonly #clientHost: string;

  constructor(socket: net.Socket, ctx: ConnectionContext) {
    this.#raw = socket;
    this.#client = socket;
    this.#ctx = ctx;
    const address = socket.remoteAddress ?? 'unknown';
    this.#clientHost = address.startsWith('::ffff:') ? address.slice(7) : address;
  }

  start(): void {
    try {
      this.#raw.on('error', this.#close);
      this.#raw.on('close', this.#close);
      this.#raw.setNoDelay(true);
      this.#timer = setTimeout(this.#handshakeExpired, this.#ctx.handshakeTimeoutMs);
      this.#run().catch(this.#close);
    } catch {
      this.#close();
    }
  }

  /**
   * The handshake took too long. When it is the upstream server that has not answered, its read
   * fails with that reason, so the client is told why rather than just hung up on.
   */
  readonly #handshakeExpired = (): void => {
    const upstream = this.#upstream;
    if (!this.#awaitingUpstream || !upstream) {
      this.#close();
      return;
    }
    this.#upstreamError = `no answer within ${this.#ctx.handshakeTimeoutMs} ms`;
    this.#timer = setTimeout(this.#close, this.#ctx.handshakeTimeoutMs);
    upstream.destroy();
  };

  /** Reads one packet from the upstream server, marking the wait as the upstream's. */
  async #fromUpstream(reader: PacketReader): Promise<MysqlPacket> {
    this.#awaitingUpstream = true;
    try {
      return await reader.read();
    } finally {
      this.#awaitingUpstream = false;
    }
  }

  /** Destroys everything this connection owns. Idempotent; safe from any callback. */
  readonly #close = (): void => {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#client.destroy();
    this.#raw.destroy();
    this.#upstream?.destroy();
  };

  /** Sends a last packet to the client, then closes (the handshake timer backs up a peer that lingers). */
  #refuse(seq: number, payload: Buffer): never {
    this.#upstream?.destroy();
    if (!this.#closed) this.#client.end(frame(seq, payload));
    throw new HandshakeAbort();
  }

  async #run(): Promise<void> {
    try {
      await this.#handshake();
    } catch (err) {
      // HandshakeAbort: the client got its answer and the socket is ending. Anything else (closed,
      // oversize, timeout, TLS failure): drop both sides.
      if (!(err instanceof HandshakeAbort)) this.#close();
    }
  }

  async #handshake(): Promise<void> {
    const ctx = this.#ctx;
    let clientReader = new PacketReader(this.#raw, ctx.maxHandshakePacketBytes);

    // ---- upstream greeting ----
    const upstream = net.connect({ host: ctx.upstream.host, port: ctx.upstream.port });
    this.#upstream = upstream;
    ctx.trackSocket?.(upstream);
    upstream.setNoDelay(true);
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      this.#upstreamError ??= err.code ?? err.message;
    });
    const upstreamReader = new PacketReader(upstream, MAX_UPSTREAM_HANDSHAKE_PACKET);
    const where = `${ctx.upstream.host}:${ctx.upstream.port}`;
    let upGreetingPacket: MysqlPacket;
    try {
      upGreetingPacket = await this.#fromUpstream(upstreamReader);
    } catch {
      this.#refuse(
        0,
        errPacket(
          CR_CONN_HOST_ERROR,
          'HY000',
          `rds-iam emulator: cannot reach the upstream server ${where} (${this.#upstreamError ?? 'closed'})`,
        ),
      );
    }
    if (upGreetingPacket.payload[0] === 0xff) {
      // Upstream refused us before any handshake (too many connections, host blocked): pass it on.
      this.#refuse(0, upGreetingPacket.payload);
    }
    let up: Greeting;
    try {
      up = parseGreeting(upGreetingPacket.payload);
    } catch {
      this.#refuse(
        0,
        errPacket(
          ER_UNKNOWN_ERROR,
          'HY000',
          `rds-iam emulator: ${where} did not greet as a MySQL server`,
        ),
      );
    }
    if ((up.capabilities & REQUIRED_CAPABILITIES) !== REQUIRED_CAPABILITIES) {
      this.#refuse(
        0,
        errPacket(
          ER_UNKNOWN_ERROR,
          'HY000',
          `rds-iam emulator: upstream ${where} is too old (no 4.1 protocol / pluggable auth)`,
        ),
      );
    }

    // ---- our greeting ----
    const announced = ((up.capabilities & SUPPORTED_CAPABILITIES) | Capability.SSL) >>> 0;
    const announcedMariaDb = (up.mariaDbCapabilities & SUPPORTED_MARIADB_CAPABILITIES) >>> 0;
    this.#client.write(
      frame(
        0,
        buildGreeting({
          serverVersion: ctx.serverVersion ?? up.serverVersion,
          connectionId: up.connectionId,
          scramble: scramble(),
          capabilities: announced,
          mariaDbCapabilities: announcedMariaDb,
          charset: up.charset,
          statusFlags: up.statusFlags,
          authPlugin: GREETING_AUTH_PLUGIN,
        }),
      ),
    );

    // ---- client response, with an optional TLS upgrade in between ----
    let seq = 0;
    const next = async (): Promise<MysqlPacket> => {
      const packet = await clientReader.read();
      seq = (seq + 1) & 0xff;
      if (packet.seq !== seq) {
        this.#refuse(
          packet.seq + 1,
          errPacket(ER_NET_PACKETS_OUT_OF_ORDER, '08S01', 'Got packets out of order'),
        );
      }
      return packet;
    };
    const badHandshake: () => never = () =>
      this.#refuse(seq + 1, errPacket(ER_HANDSHAKE_ERROR, '08S01', 'Bad handshake'));

    let response: HandshakeResponse | undefined;
    for (let attempt = 0; attempt < 2 && !response; attempt++) {
      const packet = await next();
      let parsed: ReturnType<typeof parseHandshakeResponse>;
      try {
        parsed = parseHandshakeResponse(packet.payload);
      } catch (err) {
        if (err instanceof MalformedPacketError) badHandshake();
        throw err;
      }
      if (parsed.kind === 'response') {
        response = parsed;
      } else if (this.#tls) {
        badHandshake(); // a second SSLRequest
      } else {
        clientReader = this.#upgradeToTls(clientReader);
      }
    }
    if (!response) return badHandshake();
    if (
      (response.capabilities & (Capability.PROTOCOL_41 | Capability.PLUGIN_AUTH)) !==
      (Capability.PROTOCOL_41 | Capability.PLUGIN_AUTH)
    ) {
      this.#refuse(
        seq + 1,
        errPacket(
          ER_NOT_SUPPORTED_AUTH_MODE,
          '08004',
          'Client does not support authentication protocol requested by server; consider upgrading MySQL client',
        ),
      );
    }
    const user = response.user;

    if (ctx.requireTls && !this.#tls) {
      this.#report({
        ok: false,
        user,
        reason: 'tls-required',
        detail: 'the client logged in without TLS (no SSLRequest) and the emulator requires TLS',
      });
      this.#refuse(
        seq + 1,
        errPacket(
          ER_SECURE_TRANSPORT_REQUIRED,
          '08004',
          'Connections using insecure transport are prohibited while --require_secure_transport=ON.',
        ),
      );
    }

    // ---- the token: always through mysql_clear_password, whatever the client sent first ----
    seq = (seq + 1) & 0xff;
    this.#client.write(frame(seq, authSwitchRequest(IAM_AUTH_PLUGIN)));
    const tokenPacket = await next();
    let tokenBytes = tokenPacket.payload;
    if (tokenBytes.length > 0 && tokenBytes[tokenBytes.length - 1] === 0)
      tokenBytes = tokenBytes.subarray(0, -1);
    const token = tokenBytes.toString('utf8');

    let verdict: VerifyResult;
    try {
      verdict = ctx.verify(token, user, { address: this.#raw.remoteAddress, tls: this.#tls });
    } catch (err) {
      // The contract says verify never throws; if it does, refuse rather than crash or let in.
      verdict = { ok: false, user, reason: 'malformed', detail: `verifier failed: ${String(err)}` };
    }
    // With requireIamGrant an accepted verdict waits for the upstream login, which may refuse it.
    const grantDecides = ctx.requireIamGrant === true && ctx.upstream.auth.kind === 'trust';
    if (!verdict.ok || !grantDecides) this.#report(verdict);
    if (!verdict.ok) {
      this.#refuse(
        seq + 1,
        errPacket(
          ER_ACCESS_DENIED,
          '28000',
          `Access denied for user '${user}'@'${this.#clientHost}' (using password: YES)`,
        ),
      );
    }

    // ---- log in upstream as that user ----
    const final = await this.#loginUpstream(
      up,
      response,
      announced,
      announcedMariaDb,
      upstreamReader,
    ).catch((err: unknown) => {
      // Upstream failed on its own: the token was accepted, so count it as before.
      if (grantDecides) this.#report(verdict);
      throw err;
    });
    if (grantDecides && isAccessDenied(final)) {
      // A user logged in with a token on RDS is IDENTIFIED WITH AWSAuthenticationPlugin: no
      // password of its own. Upstream wants one (or has no such user): RDS answers 1045.
      this.#report({
        ok: false,
        user,
        reason: 'not-iam-user',
        detail: `the upstream server refused a password-less login as '${ctx.upstream.user ?? user}': the user has a password (on RDS: IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS') or does not exist`,
      });
      this.#refuse(
        seq + 1,
        errPacket(
          ER_ACCESS_DENIED,
          '28000',
          `Access denied for user '${user}'@'${this.#clientHost}' (using password: YES)`,
        ),
      );
    }
    if (grantDecides) this.#report(verdict);
    if (final[0] !== 0x00) this.#refuse(seq + 1, upstreamRefusal(final, ctx.upstream.user ?? user));

    // ---- relay ----
    this.#client.write(frame(seq + 1, final));
    this.#relay(clientReader, upstreamReader);
  }

  #report(result: VerifyResult): void {
    try {
      this.#ctx.onLogin(result);
    } catch {
      // A listener's failure must not take the connection (or the process) down.
    }
  }

  /**
   * Switches the client side to TLS after an SSLRequest. Bytes already read past the SSLRequest
   * (clients send their ClientHello right behind it) are pushed back into the socket, where the TLS
   * socket picks them up before reading on.
   */
  #upgradeToTls(plainReader: PacketReader): PacketReader {
    const rest = plainReader.detach();
    if (rest.length > 0) this.#raw.unshift(rest);
    const secure = new tls.TLSSocket(this.#raw, {
      isServer: true,
      secureContext: this.#ctx.secureContext,
    });
    secure.on('error', this.#close);
    secure.on('close', this.#close);
    this.#client = secure;
    this.#tls = true;
    return new PacketReader(secure, this.#ctx.maxHandshakePacketBytes);
  }

  /**
   * Logs in upstream with the client's login, adjusted: its capabilities within what was announced
   * minus CLIENT_SSL (upstream is plain TCP), and our own auth data. Returns the payload of the final
   * OK or ERR packet to pass to the client; an unsupported exchange ends as an ERR payload too.
   */
  async #loginUpstream(
    up: Greeting,
    client: HandshakeResponse,
    announced: number,
    announcedMariaDb: number,
    reader: PacketReader,
  ): Promise<Buffer> {
    const ctx = this.#ctx;
    const upstream = this.#upstream;
    if (!upstream) throw new Error('no upstream socket');
    const password = ctx.upstream.auth.kind === 'password' ? ctx.upstream.auth.password : '';
    const where = `${ctx.upstream.host}:${ctx.upstream.port}`;
    const lost = (): Buffer =>
      errPacket(
        CR_SERVER_LOST,
        'HY000',
        `rds-iam emulator: lost the upstream server ${where} during authentication (${this.#upstreamError ?? 'closed'})`,
      );

    let plugin =
      up.authPlugin === 'caching_sha2_password' ? 'caching_sha2_password' : 'mysql_native_password';
    let challenge = up.scramble;
    const authFor = (name: string, data: Buffer): Buffer | undefined => {
      if (name === 'mysql_native_password') return nativePasswordAuth(password, data);
      if (name === 'caching_sha2_password') return cachingSha2Auth(password, data);
      // Upstream's choice for this user (e.g. a PAM account); it is the operator's own server.
      if (name === 'mysql_clear_password') return Buffer.from(`${password}\0`, 'utf8');
      return undefined;
    };

    const capabilities =
      ((client.capabilities & announced & ~Capability.SSL) | REQUIRED_CAPABILITIES) >>> 0;
    let useq = 1;
    upstream.write(
      frame(
        useq,
        buildHandshakeResponse({
          capabilities,
          mariaDbCapabilities: client.mariaDbCapabilities & announcedMariaDb,
          maxPacketSize: client.maxPacketSize,
          charset: client.charset,
          user: ctx.upstream.user ?? client.user,
          authData: authFor(plugin, challenge) ?? Buffer.alloc(0),
          database: client.database,
          authPlugin: plugin,
          connectAttrs: client.connectAttrs,
        }),
      ),
    );

    let awaitingPublicKey = false;
    for (let round = 0; round < MAX_UPSTREAM_AUTH_ROUNDS; round++) {
      let packet: MysqlPacket;
      try {
        packet = await this.#fromUpstream(reader);
      } catch {
        return lost();
      }
      if (this.#closed) throw new HandshakeAbort();
      useq = packet.seq;
      const payload = packet.payload;
      const send = (data: Buffer): void => {
        useq = (useq + 1) & 0xff;
        upstream.write(frame(useq, data));
      };
      switch (payload[0]) {
        case 0x00:
        case 0xff:
          return payload;
        case 0xfe: {
          let sw: ReturnType<typeof parseAuthSwitch>;
          try {
            sw = parseAuthSwitch(payload);
          } catch {
            return unsupported(`an unreadable auth switch from ${where}`);
          }
          const data = authFor(sw.plugin, sw.data);
          if (!data)
            return unsupported(
              `upstream ${where} asks for the ${sw.plugin} auth plugin, which the emulator does not speak`,
            );
          plugin = sw.plugin;
          challenge = sw.data;
          send(data);
          break;
        }
        case 0x01: {
          // AuthMoreData: caching_sha2_password's fast-auth verdict, or the RSA key we asked for.
          if (plugin !== 'caching_sha2_password')
            return unsupported(`unexpected auth data from ${where}`);
          if (awaitingPublicKey) {
            awaitingPublicKey = false;
            try {
              send(
                cachingSha2FullAuth(password, challenge, payload.subarray(1).toString('latin1')),
              );
            } catch {
              return unsupported(`an unusable RSA public key from ${where}`);
            }
          } else if (payload[1] === 0x04) {
            // Full authentication over plain TCP: ask for the server's RSA key (0x02).
            awaitingPublicKey = true;
            send(Buffer.from([0x02]));
          } else if (payload[1] !== 0x03) {
            return unsupported(`unexpected caching_sha2_password data from ${where}`);
          } // 0x03: fast auth succeeded, the OK packet follows
          break;
        }
        default:
          return unsupported(`an unexpected packet from ${where} during authentication`);
      }
    }
    return unsupported(`too many authentication rounds with ${where}`);

    function unsupported(what: string): Buffer {
      return errPacket(ER_NOT_SUPPORTED_AUTH_MODE, '08004', `rds-iam emulator: ${what}`);
    }
  }

  /** Authentication is over: hand both sockets to a byte pipe and stop watching the clock. */
  #relay(clientReader: PacketReader, upstreamReader: PacketReader): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const client = this.#client;
    const upstream = this.#upstream;
    if (!upstream || this.#closed) {
      this.#close();
      return;
    }
    const fromClient = clientReader.detach();
    const fromUpstream = upstreamReader.detach();
    // From here a close on one side ends the other gracefully rather than destroying it, so the last
    // bytes in flight (upstream's ERR before it drops a KILLed session, the client's COM_QUIT) are
    // delivered instead of cut. Errors still tear both down at once.
    this.#raw.off('close', this.#close);
    client.off('close', this.#close);
    const endOther = (other: net.Socket) => (): void => {
      if (!other.destroyed) other.end(() => other.destroy());
    };
    client.once('close', endOther(upstream));
    upstream.once('close', endOther(client));
    upstream.on('error', this.#close);
    if (fromClient.length > 0) upstream.write(fromClient);
    if (fromUpstream.length > 0) client.write(fromUpstream);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/** A 20-byte scramble of printable bytes: it travels NUL-terminated, so it must hold no NUL. */
function scramble(): Buffer {
  const bytes = randomBytes(20);
  for (let i = 0; i < bytes.length; i++) bytes[i] = 0x21 + ((bytes[i] ?? 0) % 94);
  return bytes;
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

/** Whether a packet is an ERR packet with errno 1045. */
function isAccessDenied(packet: Buffer): boolean {
  return packet[0] === 0xff && packet.length >= 3 && packet.readUInt16LE(1) === ER_ACCESS_DENIED;
}
