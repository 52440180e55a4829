import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
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
 */

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const TLS_HANDSHAKE_RECORD = 0x16;
/** Upstream is trusted more than clients, but a runaway handshake message is still a bug. */
const MAX_UPSTREAM_HANDSHAKE_BYTES = 1 << 20;
/** After an error is sent, how long the client gets to read it and close. */
const LINGER_MS = 2_000;
/** At most this many SSLRequest / GSSENCRequest negotiations per connection. */
const MAX_NEGOTIATIONS = 4;

type Phase = 'startup' | 'password' | 'upstream' | 'relay' | 'closing' | 'closed';

// ---- message builders ---------------------------------------------------------------------

function typed(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

/** ErrorResponse with severity, SQLSTATE and message. */
function errorResponse(severity: string, code: string, message: string): Buffer {
  return typed(
    'E',
    Buffer.concat([
      Buffer.from('S'),
      cstr(severity),
      Buffer.from('V'),
      cstr(severity),
      Buffer.from('C'),
      cstr(code),
      Buffer.from('M'),
      cstr(message),
      Buffer.from([0]),
    ]),
  );
}

function authRequest(code: number, extra: Buffer = Buffer.alloc(0)): Buffer {
  return typed('R', Buffer.concat([int32(code), extra]));
}

function startupMessage(params: ReadonlyMap<string, string>): Buffer {
  const parts: Buffer[] = [int32(3 << 16)];
  for (const [k, v] of params) parts.push(cstr(k), cstr(v));
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  return Buffer.concat([int32(body.length + 4), body]);
}

/** Fields of an ErrorResponse / NoticeResponse body, keyed by their one-letter codes. */
function parseFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const key = String.fromCharCode(body[i] ?? 0);
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    fields.set(key, body.toString('utf8', i + 1, end));
    i = end + 1;
  }
  return fields;
}

function md5Hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function parseScramAttributes(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part.slice(0, 1), part.slice(2));
  }
  return out;
}

class ProtocolError extends Error {}

// ---- one client connection ----------------------------------------------------------------

class PostgresSession {
  readonly #raw: net.Socket;
  readonly #ctx: ConnectionContext;
  #client: net.Socket;
  #tls = false;
  #phase: Phase = 'startup';
  #buf: Buffer = Buffer.alloc(0);
  #timer: NodeJS.Timeout | undefined;
  #linger: NodeJS.Timeout | undefined;
  #negotiations = 0;
  #params = new Map<string, string>();
  #user = '';
  #upstream: net.Socket | undefined;
  #upBuf: Buffer = Buffer.alloc(0);
  #authOk = false;
  #held: Buffer[] = [];
  /** `requireIamGrant`: the rds_iam question sent upstream, and the rows it answered. */
  #grantCheck: 'none' | 'asked' = 'none';
  #grantRows = 0;
  #grantError: string | undefined;
  /** An accepted verdict not reported yet: with `requireIamGrant`, the grant decides first. */
  #pendingReport: VerifyResult | undefined;
  #heldBytes = 0;
  #pendingToUpstream: Buffer[] = [];
  #pendingBytes = 0;
  #scram: { nonce: string; firstBare: string; serverSignature?: Buffer } | undefined;
  readonly #onClientData = (chunk: Buffer): void => this.#guard(() => this.#clientData(chunk));
  readonly #onUpstreamData = (chunk: Buffer): void => this.#guard(() => this.#upstreamData(chunk));
  readonly #destroy = (): void => this.destroy();
  readonly #onClientClose = (): void => {
    if (this.#phase === 'relay' && this.#upstream) this.#endRelay(this.#upstream);
    else if (!this.#draining) this.destroy();
  };
  /** Relay over: one side closed, the other is flushing what it has before it closes too. */
  #draining = false;

  constructor(socket: net.Socket, ctx: ConnectionContext) {
    this.#raw = socket;
    this.#client = socket;
    this.#ctx = ctx;
  }

  start(): void {
    const raw = this.#raw;
    raw.setNoDelay(true);
    raw.on('error', this.#destroy);
    raw.on('close', this.#onClientClose);
    raw.on('data', this.#onClientData);
    this.#timer = setTimeout(this.#handshakeExpired, this.#ctx.handshakeTimeoutMs);
    this.#timer.unref();
    if (raw.destroyed) this.destroy();
  }

  /** The handshake took too long: when it is the upstream server that has not answered, say so. */
  readonly #handshakeExpired = (): void => {
    if (this.#phase !== 'upstream') {
      this.destroy();
      return;
    }
    const { host, port } = this.#ctx.upstream;
    this.#fatal(
      '08006',
      `the upstream server ${host}:${port} did not answer within ${this.#ctx.handshakeTimeoutMs} ms`,
    );
  };

  /** Destroys both sides and clears every timer. Idempotent. */
  destroy(): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    clearTimeout(this.#timer);
    clearTimeout(this.#linger);
    this.#client.destroy();
    this.#raw.destroy();
    this.#upstream?.destroy();
    this.#buf = Buffer.alloc(0);
    this.#upBuf = Buffer.alloc(0);
    this.#pendingToUpstream = [];
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch {
      this.destroy();
    }
  }

  #write(data: Buffer): void {
    if (!this.#client.destroyed && this.#client.writable) this.#client.write(data);
  }

  /** Sends a FATAL ErrorResponse, then closes once the client has read it (or after a grace period). */
  #fatal(code: string, message: string): void {
    if (this.#phase === 'closed' || this.#phase === 'closing') return;
    this.#flushReport();
    this.#phase = 'closing';
    this.#upstream?.destroy();
    this.#write(errorResponse('FATAL', code, message));
    this.#endClient();
  }

  #endClient(): void {
    this.#phase = this.#phase === 'closed' ? 'closed' : 'closing';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#client.end();
    clearTimeout(this.#linger);
    this.#linger = setTimeout(this.#destroy, LINGER_MS);
    this.#linger.unref();
  }

  #reject(result: VerifyResult & { ok: false }): void {
    this.#report(result);
    this.#fatal('28P01', `PAM authentication failed for user "${this.#user}"`);
  }

  /** Reports an accepted verdict held back for the grant check (upstream failed before it). */
  #flushReport(): void {
    const pending = this.#pendingReport;
    this.#pendingReport = undefined;
    if (pending) this.#report(pending);
  }

  #report(result: VerifyResult): void {
    try {
      this.#ctx.onLogin(result);
    } catch {
      // A listener's failure must not break the connection.
    }
  }

  // ---- client side, before relay ----

  #clientData(chunk: Buffer): void {
    if (this.#phase === 'upstream') {
      // A client that pipelines before AuthenticationOk: hold it for upstream, within limits.
      this.#pendingBytes += chunk.length;
      if (this.#pendingBytes > this.#ctx.maxHandshakePacketBytes) throw new ProtocolError('flood');
      this.#pendingToUpstream.push(chunk);
      return;
    }
    if (this.#phase !== 'startup' && this.#phase !== 'password') return;
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    if (this.#buf.length > this.#ctx.maxHandshakePacketBytes + 5) {
      throw new ProtocolError('handshake too large');
    }
    this.#process();
  }

  #process(): void {
    const max = this.#ctx.maxHandshakePacketBytes;
    while (this.#phase === 'startup' || this.#phase === 'password') {
      const buf = this.#buf;
      if (this.#phase === 'startup') {
        if (
          !this.#tls &&
          this.#negotiations === 0 &&
          buf.length > 0 &&
          buf[0] === TLS_HANDSHAKE_RECORD
        ) {
          // Direct TLS (PostgreSQL 17 `sslnegotiation=direct`): a ClientHello with no SSLRequest.
          this.#buf = Buffer.alloc(0);
          this.#negotiations++;
          this.#upgradeTls(buf);
          return;
        }
        if (buf.length < 4) return;
        const len = buf.readInt32BE(0);
        if (len < 8 || len > max) throw new ProtocolError('bad startup length');
        if (buf.length < len) return;
        const packet = buf.subarray(0, len);
        this.#buf = buf.subarray(len);
        this.#startupPacket(packet);
      } else {
        if (buf.length < 5) return;
        const type = String.fromCharCode(buf[0] ?? 0);
        const len = buf.readInt32BE(1);
        if (len < 4 || len > max) throw new ProtocolError('bad message length');
        if (buf.length < len + 1) return;
        const body = buf.subarray(5, len + 1);
        this.#buf = buf.subarray(len + 1);
        this.#passwordMessage(type, body);
      }
    }
  }

  #startupPacket(packet: Buffer): void {
    const code = packet.readInt32BE(4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      if (packet.length !== 8 || this.#tls || ++this.#negotiations > MAX_NEGOTIATIONS) {
        throw new ProtocolError('bad negotiation');
      }
      if (code === GSSENC_REQUEST) {
        this.#write(Buffer.from('N'));
        return;
      }
      // Anything sent after an SSLRequest and before the handshake is an injection attempt
      // (CVE-2021-23214); PostgreSQL drops the connection, so do we.
      if (this.#buf.length > 0) throw new ProtocolError('data after SSLRequest');
      this.#write(Buffer.from('S'));
      this.#upgradeTls(undefined);
      return;
    }
    if (code === CANCEL_REQUEST) {
      if (packet.length !== 16) throw new ProtocolError('bad cancel request');
      this.#forwardCancel(Buffer.from(packet));
      return;
    }
    const major = code >>> 16;
    const minor = code & 0xffff;
    if (major !== 3) {
      this.#fatal(
        '0A000',
        `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`,
      );
      return;
    }
    this.#startup(packet.subarray(8), minor);
  }

  #startup(body: Buffer, minor: number): void {
    const params = new Map<string, string>();
    let i = 0;
    for (;;) {
      const kEnd = body.indexOf(0, i);
      if (kEnd < 0) throw new ProtocolError('unterminated startup packet');
      if (kEnd === i) break; // the terminating empty name
      const vEnd = body.indexOf(0, kEnd + 1);
      if (vEnd < 0) throw new ProtocolError('unterminated startup value');
      params.set(body.toString('utf8', i, kEnd), body.toString('utf8', kEnd + 1, vEnd));
      i = vEnd + 1;
    }
    const unsupported = [...params.keys()].filter((k) => k.startsWith('_pq_.'));
    for (const k of unsupported) params.delete(k);
    this.#params = params;
    const user = params.get('user');
    if (user === undefined || user === '') {
      this.#fatal('28000', 'no PostgreSQL user name specified in startup packet');
      return;
    }
    this.#user = user;
    if (this.#ctx.requireTls && !this.#tls) {
      // RDS: `hostssl ... +rds_iam pam` in pg_hba.conf; the token is never asked for in clear.
      const host = this.#raw.remoteAddress ?? 'unknown';
      const database = params.get('database') ?? user;
      this.#report({
        ok: false,
        user,
        reason: 'tls-required',
        detail: 'the client did not negotiate TLS; IAM authentication requires it',
      });
      this.#fatal(
        '28000',
        `pg_hba.conf rejects connection for host "${host}", user "${user}", database "${database}", no encryption`,
      );
      return;
    }
    if (minor !== 0 || unsupported.length > 0) {
      // We speak 3.0: tell the client, as a 3.0 server does, before authentication.
      this.#write(
        typed(
          'v',
          Buffer.concat([int32(0), int32(unsupported.length), ...unsupported.map((k) => cstr(k))]),
        ),
      );
    }
    this.#write(authRequest(3)); // AuthenticationCleartextPassword
    this.#phase = 'password';
  }

  #passwordMessage(type: string, body: Buffer): void {
    if (type !== 'p') throw new ProtocolError(`expected a password message, got ${type}`);
    const end = body.indexOf(0);
    if (end !== body.length - 1) {
      this.#fatal('08P01', 'invalid password packet size');
      return;
    }
    const token = body.toString('utf8', 0, end);
    let result: VerifyResult;
    try {
      result = this.#ctx.verify(token, this.#user, {
        address: this.#raw.remoteAddress,
        tls: this.#tls,
      });
    } catch {
      result = { ok: false, user: this.#user, reason: 'malformed', detail: 'verification failed' };
    }
    if (!result.ok) {
      this.#reject(result);
      return;
    }
    if (this.#ctx.requireIamGrant) this.#pendingReport = result;
    else this.#report(result);
    this.#phase = 'upstream';
    if (this.#buf.length > 0) {
      this.#pendingToUpstream.push(this.#buf);
      this.#pendingBytes += this.#buf.length;
      this.#buf = Buffer.alloc(0);
    }
    this.#connectUpstream();
  }

  /** After the rds_iam question: relay the session, or refuse as RDS refuses a non-IAM user. */
  #grantDecided(): void {
    if (this.#grantRows > 0) {
      this.#startRelay(Buffer.concat(this.#held));
      return;
    }
    this.#pendingReport = undefined;
    this.#report({
      ok: false,
      user: this.#user,
      reason: 'not-iam-user',
      detail: this.#grantError
        ? `could not read the rds_iam membership of "${this.#user}" upstream: ${this.#grantError}`
        : `"${this.#user}" is not a member of rds_iam upstream, so RDS would ask for its password (GRANT rds_iam TO "${this.#user}")`,
    });
    // On RDS a user without rds_iam logs in with its password; the token is not that password.
    this.#fatal('28P01', `password authentication failed for user "${this.#user}"`);
  }

  #upgradeTls(preRead: Buffer | undefined): void {
    const raw = this.#raw;
    raw.removeListener('data', this.#onClientData);
    raw.pause();
    if (preRead && preRead.length > 0) raw.unshift(preRead);
    const secure = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: this.#ctx.secureContext,
      ALPNProtocols: ['postgresql'],
    });
    this.#client = secure;
    this.#tls = true;
    secure.on('error', this.#destroy);
    secure.on('close', this.#onClientClose);
    secure.on('data', this.#onClientData);
  }

  #forwardCancel(packet: Buffer): void {
    this.#phase = 'closing';
    const { host, port } = this.#ctx.upstream;
    // Not this.#upstream: the cancel is delivered even if the client hangs up at once.
    const up = net.connect({ host, port });
    this.#ctx.trackSocket?.(up);
    up.on('connect', () => up.end(packet));
    up.on('error', () => up.destroy());
    // PostgreSQL answers a cancel request by closing the connection; so do we, once it has.
    up.on('close', this.#destroy);
    up.setTimeout(this.#ctx.handshakeTimeoutMs, () => up.destroy());
  }

  // ---- upstream side ----

  #connectUpstream(): void {
    const { host, port } = this.#ctx.upstream;
    const up = net.connect({ host, port });
    this.#upstream = up;
    this.#ctx.trackSocket?.(up);
    up.setNoDelay(true);
    up.on('connect', () =>
      this.#guard(() => {
        const params = new Map(this.#params);
        params.set('user', this.#upstreamUser());
        up.write(startupMessage(params));
      }),
    );
    up.on('data', this.#onUpstreamData);
    up.on('error', (err: Error) => {
      if (this.#phase === 'upstream') {
        this.#fatal(
          '08006',
          `the emulator could not reach the upstream server ${host}:${port}: ${err.message}`,
        );
      } else {
        this.destroy();
      }
    });
    up.on('close', () => {
      if (this.#phase === 'upstream') {
        this.#fatal(
          '08006',
          `the upstream server ${host}:${port} closed the connection during authentication`,
        );
      } else if (this.#phase === 'relay') {
        this.#endRelay(this.#client);
      } else if (!this.#draining) {
        this.destroy();
      }
    });
  }

  #upstreamUser(): string {
    return this.#ctx.upstream.user ?? this.#user;
  }

  #upstreamPassword(method: string): string {
    const auth = this.#ctx.upstream.auth;
    if (auth.kind !== 'password') {
      throw new UpstreamAuthError(
        `the upstream server asks for a password (${method}) but the emulator has none: give upstream auth { kind: 'password', password }`,
      );
    }
    return auth.password;
  }

  #upstreamData(chunk: Buffer): void {
    if (this.#phase !== 'upstream') return;
    this.#upBuf = this.#upBuf.length === 0 ? chunk : Buffer.concat([this.#upBuf, chunk]);
    try {
      while (this.#phase === 'upstream' && this.#upBuf.length >= 5) {
        const buf = this.#upBuf;
        const type = String.fromCharCode(buf[0] ?? 0);
        const len = buf.readInt32BE(1);
        if (len < 4 || len > MAX_UPSTREAM_HANDSHAKE_BYTES) {
          throw new UpstreamAuthError('the upstream server sent an invalid message');
        }
        if (buf.length < len + 1) {
          if (buf.length > MAX_UPSTREAM_HANDSHAKE_BYTES) {
            throw new UpstreamAuthError('the upstream server sent an oversized message');
          }
          return;
        }
        const body = buf.subarray(5, len + 1);
        if (this.#authOk && type === 'Z' && this.#ctx.requireIamGrant) {
          this.#upBuf = buf.subarray(len + 1);
          if (this.#grantCheck === 'none') {
            // The session is up: before the client gets it, ask whether the user has rds_iam.
            this.#held.push(Buffer.from(buf.subarray(0, len + 1)));
            this.#grantCheck = 'asked';
            this.#upstream?.write(typed('Q', cstr(grantQuery(this.#user))));
            continue;
          }
          this.#grantDecided();
          return;
        }
        if (this.#authOk && type === 'Z') {
          // ReadyForQuery: the session is up. Hand the client everything from AuthenticationOk on.
          this.#startRelay(Buffer.concat([...this.#held, buf]));
          return;
        }
        this.#upBuf = buf.subarray(len + 1);
        if (this.#grantCheck === 'asked') {
          // The answer to our own question: never for the client.
          if (type === 'D') this.#grantRows++;
          if (type === 'E') this.#grantError = parseFields(body).get('M') ?? 'error';
          continue;
        }
        if (type === 'R' && body.length >= 4 && body.readInt32BE(0) === 0) {
          this.#authOk = true;
        }
        if (this.#authOk && type !== 'E') {
          // AuthenticationOk, ParameterStatus, BackendKeyData, notices: held until ReadyForQuery,
          // so that a failure of session start-up (no such role) can still be reported as such.
          this.#held.push(Buffer.from(buf.subarray(0, len + 1)));
          this.#heldBytes += len + 1;
          if (this.#heldBytes > MAX_UPSTREAM_HANDSHAKE_BYTES) {
            throw new UpstreamAuthError('the upstream server sent too much before ReadyForQuery');
          }
          continue;
        }
        this.#upstreamMessage(type, body);
      }
    } catch (err) {
      if (err instanceof UpstreamAuthError) {
        this.#fatal('08004', err.message);
        return;
      }
      throw err;
    }
  }

  #upstreamMessage(type: string, body: Buffer): void {
    const up = this.#upstream;
    if (!up) return;
    switch (type) {
      case 'R':
        this.#upstreamAuth(up, body);
        return;
      case 'E': {
        const fields = parseFields(body);
        const code = fields.get('C') ?? 'XX000';
        const message = fields.get('M') ?? 'unknown error';
        if (code === '28P01' || code === '28000') {
          // Not the client's token: say so, and not with the code clients treat as a bad token.
          this.#fatal(
            '08004',
            `the upstream server rejected the emulator's login as "${this.#upstreamUser()}": ${message}`,
          );
        } else {
          this.#phase = 'closing';
          up.destroy();
          this.#write(typed('E', body));
          this.#endClient();
        }
        return;
      }
      case 'N':
      case 'v':
        return; // notices and protocol negotiation before authentication: nothing for the client
      default:
        throw new UpstreamAuthError(
          `the upstream server sent an unexpected message "${type}" during authentication`,
        );
    }
  }

  #upstreamAuth(up: net.Socket, body: Buffer): void {
    if (body.length < 4) throw new UpstreamAuthError('the upstream server sent a short message');
    const code = body.readInt32BE(0);
    switch (code) {
      case 3: // cleartext
        up.write(typed('p', cstr(this.#upstreamPassword('password'))));
        return;
      case 5: {
        // md5: "md5" + md5(md5(password + user) + salt)
        const salt = body.subarray(4, 8);
        const inner = md5Hex(this.#upstreamPassword('md5') + this.#upstreamUser());
        const outer = md5Hex(Buffer.concat([Buffer.from(inner, 'latin1'), salt]));
        up.write(typed('p', cstr(`md5${outer}`)));
        return;
      }
      case 10: {
        // SASL: mechanisms, each NUL-terminated, then an empty one
        const mechanisms = body.toString('utf8', 4).split('\0').filter(Boolean);
        if (!mechanisms.includes('SCRAM-SHA-256')) {
          throw new UpstreamAuthError(
            `the upstream server offers SASL mechanisms ${mechanisms.join(', ')}; the emulator speaks SCRAM-SHA-256`,
          );
        }
        this.#upstreamPassword('SCRAM-SHA-256');
        const nonce = randomBytes(18).toString('base64');
        const firstBare = `n=,r=${nonce}`;
        const first = Buffer.from(`n,,${firstBare}`, 'utf8');
        this.#scram = { nonce, firstBare };
        up.write(typed('p', Buffer.concat([cstr('SCRAM-SHA-256'), int32(first.length), first])));
        return;
      }
      case 11: {
        const scram = this.#scram;
        if (!scram) throw new UpstreamAuthError('unexpected SASLContinue from the upstream server');
        const serverFirst = body.toString('utf8', 4);
        const attrs = parseScramAttributes(serverFirst);
        const nonce = attrs.get('r') ?? '';
        const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
        const iterations = Number(attrs.get('i'));
        if (
          !nonce.startsWith(scram.nonce) ||
          nonce.length === scram.nonce.length ||
          salt.length === 0 ||
          !Number.isInteger(iterations) ||
          iterations < 1 ||
          iterations > 10_000_000
        ) {
          throw new UpstreamAuthError('the upstream server sent an invalid SCRAM challenge');
        }
        const salted = pbkdf2Sync(
          this.#upstreamPassword('SCRAM-SHA-256').normalize('NFKC'),
          salt,
          iterations,
          32,
          'sha256',
        );
        const clientKey = hmac(salted, 'Client Key');
        const storedKey = createHash('sha256').update(clientKey).digest();
        const finalWithoutProof = `c=biws,r=${nonce}`;
        const authMessage = `${scram.firstBare},${serverFirst},${finalWithoutProof}`;
        const signature = hmac(storedKey, authMessage);
        const proof = Buffer.alloc(clientKey.length);
        for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] ?? 0) ^ (signature[i] ?? 0);
        scram.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
        up.write(typed('p', Buffer.from(`${finalWithoutProof},p=${proof.toString('base64')}`)));
        return;
      }
      case 12: {
        const expected = this.#scram?.serverSignature;
        const v = parseScramAttributes(body.toString('utf8', 4)).get('v');
        const given = Buffer.from(v ?? '', 'base64');
        if (!expected || given.length !== expected.length || !timingSafeEqual(given, expected)) {
          throw new UpstreamAuthError('the upstream server failed SCRAM server verification');
        }
        return;
      }
      default:
        throw new UpstreamAuthError(
          `the upstream server asks for an authentication method the emulator does not speak (code ${code})`,
        );
    }
  }

  // ---- relay ----

  #startRelay(startup: Buffer): void {
    const up = this.#upstream;
    const client = this.#client;
    if (!up) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#phase = 'relay';
    this.#upBuf = Buffer.alloc(0);
    up.removeListener('data', this.#onUpstreamData);
    client.removeListener('data', this.#onClientData);
    this.#held = [];
    this.#flushReport();
    client.write(startup);
    for (const chunk of this.#pendingToUpstream) up.write(chunk);
    this.#pendingToUpstream = [];
    client.pipe(up);
    up.pipe(client);
  }

  /** One side of the relay closed: let the other flush what it has, then close everything. */
  #endRelay(other: net.Socket): void {
    if (this.#phase !== 'relay') return;
    this.#phase = 'closing';
    this.#draining = true;
    if (other.destroyed || other.writableFinished) {
      this.destroy();
      return;
    }
    other.end();
    other.once('finish', this.#destroy);
    this.#linger = setTimeout(this.#destroy, LINGER_MS);
    this.#linger.unref();
  }
}

class UpstreamAuthError extends Error {}

/**
 * The PostgreSQL front end of the emulator: owns `socket` from here on. Answers SSLRequest with `S`
 * and TLS on `ctx.secureContext` (direct TLS too), GSSENCRequest with `N`, forwards CancelRequest
 * to upstream verbatim, asks for the token with AuthenticationCleartextPassword, checks it with
 * `ctx.verify`, and then logs in upstream as the same user (trust, cleartext, md5 or SCRAM-SHA-256)
 * and, once upstream is ready for queries, relays bytes both ways from upstream's AuthenticationOk
 * on. An upstream refusal (no such role, wrong upstream password) reaches the client as SQLSTATE
 * 08004 with upstream's message, never as 28P01, so clients don't take it for a bad token. Rejections read as on RDS:
 * `FATAL 28P01 PAM authentication failed for user "u"`. Never throws.
 *
 * @example
 * ```ts
 * import net from 'node:net';
 * const server = net.createServer((socket) => handlePostgresConnection(socket, ctx));
 * ```
 */
export function handlePostgresConnection(socket: net.Socket, ctx: ConnectionContext): void {
  const session = new PostgresSession(socket, ctx);
  try {
    session.start();
  } catch {
    session.destroy();
  }
}

/** Whether `user` is a member of `rds_iam` (no row when either role is missing). */
function grantQuery(user: string): string {
  const name = user.replaceAll("'", "''");
  return `SELECT 1 FROM pg_catalog.pg_roles u, pg_catalog.pg_roles r WHERE u.rolname = '${name}' AND r.rolname = 'rds_iam' AND pg_catalog.pg_has_role(u.oid, r.oid, 'MEMBER')`;
}
