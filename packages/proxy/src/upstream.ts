import type net from 'node:net';
import type tls from 'node:tls';
import { describeError, type IamConnector, isTlsVerifyError, RdsIamError } from '@rds-iam/core';
import {
  Capability,
  ConnectTimeoutError,
  connectWithin,
  FrameReader,
  frame,
  type Greeting,
  type HandshakeResponse,
  isAccessDenied,
  loginMysql,
  loginPostgres,
  type MysqlLoginOutcome,
  PacketReader,
  parseErrPacket,
  readGreeting,
  sendSslRequest,
  sslRequest,
  UnfitGreetingError,
  type UpstreamGreeting,
  upgradeClientTls,
} from '@rds-iam/wire';
import type { ProxyRefusalReason } from './log.js';

/*
 * The proxy's upstream side: mint (from core's shared cache), dial, TLS verify-full against the
 * RDS CAs of the endpoint's region (core's `iamTls`), log in with the token the way RDS wants it,
 * and retry a rejected login once with a fresh token (core's rule 5), never in a loop.
 */

/** Bound on what upstream may send before its session starts. */
const MAX_UPSTREAM_FRAME = (1 << 20) + 5;

/** Why the upstream login failed, for the log and the client; never holds the token. */
export class UpstreamFailure extends Error {
  readonly reason: ProxyRefusalReason;
  /** Upstream's own error message as received, to hand the client unchanged. */
  readonly raw: Buffer | undefined;
  constructor(reason: ProxyRefusalReason, message: string, raw?: Buffer) {
    super(message);
    this.name = 'UpstreamFailure';
    this.reason = reason;
    this.raw = raw;
  }
}

/** What one upstream login needs. */
export interface UpstreamContext {
  readonly connector: IamConnector;
  /** Bound on each step (TCP, TLS, each answer). */
  readonly timeoutMs: number;
  /** Hands every socket opened upstream to the session, which destroys it with the client. */
  track(socket: net.Socket): void;
  /** Counts a login retried with a fresh token. */
  onRetry(): void;
}

async function token(connector: IamConnector): Promise<string> {
  try {
    return await connector.password();
  } catch (err) {
    throw new UpstreamFailure('credentials', `no IAM token: ${describeError(err)}`);
  }
}

/** A TCP connection to the endpoint within the step bound. */
export async function dial(ctx: UpstreamContext): Promise<net.Socket> {
  const { host, port } = ctx.connector;
  let socket: net.Socket;
  try {
    socket = await connectWithin(host, port, ctx.timeoutMs);
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    throw new UpstreamFailure(
      'upstream-unreachable',
      err instanceof ConnectTimeoutError
        ? message
        : `cannot reach ${host}:${port} (${code ?? message})`,
    );
  }
  // Tracked even when the caller gave up meanwhile (its token failed): a closed session destroys it.
  ctx.track(socket);
  socket.on('error', () => socket.destroy());
  return socket;
}

/**
 * TLS on a connected socket read so far by `reader`, verified as core's `iamTls` says; the token
 * goes only over this.
 */
export async function secure(
  socket: net.Socket,
  reader: FrameReader,
  ctx: UpstreamContext,
  settings: tls.ConnectionOptions,
): Promise<tls.TLSSocket> {
  let secured: tls.TLSSocket;
  try {
    secured = await upgradeClientTls(socket, reader, settings, ctx.timeoutMs);
    ctx.connector.tls.assertSecure(secured);
  } catch (err) {
    const described =
      err instanceof RdsIamError
        ? err.message
        : isTlsVerifyError(err)
          ? `the TLS certificate of ${ctx.connector.host} did not verify (${describeError(err)}); for anything but RDS (the emulator, a tunnel with its own certificate) give its CA (--ca-file / ssl: { ca })`
          : `TLS with ${ctx.connector.host}:${ctx.connector.port} failed (${describeError(err)})`;
    throw new UpstreamFailure('upstream-tls', described);
  }
  ctx.track(secured);
  secured.setNoDelay(true);
  secured.on('error', () => secured.destroy());
  return secured;
}

/** A socket upstream and its frame reader, after TLS when there is TLS. */
interface Opened {
  readonly socket: net.Socket;
  readonly reader: FrameReader;
}

/** A PostgreSQL session logged in upstream: its socket, and what the client must be sent first. */
export interface PostgresUpstream extends Opened {
  /** AuthenticationOk through ReadyForQuery, then anything upstream sent after. */
  readonly handshake: Buffer;
}

/**
 * Negotiates TLS on a new PostgreSQL connection (SSLRequest, `S`, handshake verified), or keeps it
 * plain where core's TLS settings allow it (loopback with `ssl: false`).
 */
export async function postgresTls(ctx: UpstreamContext, raw: net.Socket): Promise<Opened> {
  const { connector } = ctx;
  const reader = new FrameReader(raw, MAX_UPSTREAM_FRAME);
  const settings = connector.tls.sharedSsl;
  if (settings === false) return { socket: raw, reader };
  const answer = await sendSslRequest(reader, (b) => raw.write(b), ctx.timeoutMs).catch(
    (err: unknown) => {
      throw new UpstreamFailure(
        'upstream-unreachable',
        `no answer to SSLRequest: ${describeError(err)}`,
      );
    },
  );
  if (answer !== 'S') {
    throw new UpstreamFailure(
      'upstream-tls',
      `${connector.host}:${connector.port} offers no TLS (answered ${JSON.stringify(answer)} to SSLRequest)`,
    );
  }
  const socket = await secure(raw, reader, ctx, settings);
  return { socket, reader: new FrameReader(socket, MAX_UPSTREAM_FRAME) };
}

/**
 * Logs in to PostgreSQL upstream with the client's start-up parameters (`user` replaced by the IAM
 * user) and the token as the cleartext password, over TLS; retries once with a fresh token when
 * the token is rejected.
 */
export async function postgresUpstream(
  ctx: UpstreamContext,
  params: ReadonlyMap<string, string>,
): Promise<PostgresUpstream> {
  const { connector } = ctx;
  for (let attempt = 0; ; attempt++) {
    const [password, raw] = await Promise.all([token(connector), dial(ctx)]);
    const { socket, reader } = await postgresTls(ctx, raw);
    const write = (b: Buffer): void => {
      socket.write(b);
    };
    const outcome = await loginPostgres(reader, write, {
      params,
      password: (method) => (method === 'cleartext' ? password : undefined),
      timeoutMs: ctx.timeoutMs,
    }).catch((err: unknown) => {
      throw new UpstreamFailure(
        'upstream-unreachable',
        `lost ${connector.host}:${connector.port} during the login (${describeError(err)})`,
      );
    });
    if (outcome.kind === 'ready') {
      return { socket, reader, handshake: outcome.handshake };
    }
    socket.destroy();
    if (outcome.kind === 'unanswered') {
      throw new UpstreamFailure(
        'token-rejected',
        `the server asks ${connector.user} for ${outcome.method}, not a cleartext password: IAM authentication is not enabled for this user (GRANT rds_iam TO ${connector.user})`,
      );
    }
    const code = outcome.fields.get('C') ?? '';
    const message = outcome.fields.get('M') ?? 'refused';
    const rejection = { code, message };
    connector.loginFailed(password, rejection);
    if (!outcome.authenticated && (code === '28P01' || code === '28000')) {
      if (attempt === 0) {
        ctx.onRetry();
        continue;
      }
      throw new UpstreamFailure('token-rejected', rejectedTwice(connector, message), outcome.raw);
    }
    throw new UpstreamFailure('upstream-refused', `${code} ${message}`, outcome.raw);
  }
}

function rejectedTwice(connector: IamConnector, message: string): string {
  return `${connector.host}:${connector.port} rejected the IAM token for ${connector.user} twice (${message}); check that the user has IAM authentication (PostgreSQL: GRANT rds_iam; MySQL: IDENTIFIED WITH AWSAuthenticationPlugin), that the IAM policy allows rds-db:connect on it, and the region and signing host`;
}

/** A MySQL connection upstream, greeted, before its login. */
export interface MysqlOpened {
  readonly socket: net.Socket;
  readonly reader: PacketReader;
  readonly greeting: Greeting;
}

/** Dials MySQL upstream and reads its greeting. */
export async function openMysqlUpstream(ctx: UpstreamContext): Promise<MysqlOpened> {
  const { connector } = ctx;
  const socket = await dial(ctx);
  const reader = new PacketReader(new FrameReader(socket, MAX_UPSTREAM_FRAME));
  let first: UpstreamGreeting;
  try {
    first = await readGreeting(reader, ctx.timeoutMs);
  } catch (err) {
    if (err instanceof UnfitGreetingError) {
      throw new UpstreamFailure(
        'upstream-refused',
        `${connector.host}:${connector.port} ${err.message}`,
      );
    }
    throw new UpstreamFailure(
      'upstream-unreachable',
      `no greeting from ${connector.host}:${connector.port} (${describeError(err)})`,
    );
  }
  if (first.kind === 'refused') {
    throw new UpstreamFailure(
      'upstream-refused',
      `${connector.host}:${connector.port} refused the connection: ${parseErrPacket(first.payload).message}`,
    );
  }
  const { greeting } = first;
  if (connector.tls.sharedSsl !== false && !(greeting.capabilities & Capability.SSL)) {
    throw new UpstreamFailure('upstream-tls', `${connector.host}:${connector.port} offers no TLS`);
  }
  return { socket, reader, greeting };
}

/** A MySQL session logged in upstream: its socket and reader, and its OK packet for the client. */
export interface MysqlUpstream {
  readonly socket: net.Socket;
  readonly reader: PacketReader;
  readonly ok: Buffer;
}

/**
 * Logs in to MySQL upstream (greeted as `opened`) with the client's handshake fields, over TLS,
 * answering RDS's switch to mysql_clear_password with the token; after a rejection, dials again and
 * retries once with a fresh token.
 */
export async function mysqlUpstream(
  ctx: UpstreamContext,
  first: MysqlOpened,
  fields: (greeting: Greeting) => Omit<HandshakeResponse, 'kind' | 'authData' | 'authPlugin'>,
): Promise<MysqlUpstream> {
  const { connector } = ctx;
  let opened: MysqlOpened | undefined = first;
  for (let attempt = 0; ; attempt++) {
    const [password, current] = await Promise.all([
      token(connector),
      opened ?? openMysqlUpstream(ctx),
    ]);
    opened = undefined;
    const response = fields(current.greeting);
    let socket = current.socket;
    let reader = current.reader;
    let seq = 1;
    const settings = connector.tls.sharedSsl;
    if (settings !== false) {
      socket.write(
        frame(1, sslRequest(response.capabilities, response.maxPacketSize, response.charset)),
      );
      socket = await secure(current.socket, reader.frames, ctx, settings);
      reader = new PacketReader(new FrameReader(socket, MAX_UPSTREAM_FRAME));
      seq = 2;
    }
    const tlsBit = settings === false ? 0 : Capability.SSL;
    const write = (b: Buffer): void => {
      socket.write(b);
    };
    let outcome: MysqlLoginOutcome;
    try {
      outcome = await loginMysql(reader, write, {
        greeting: current.greeting,
        response: { ...response, capabilities: (response.capabilities | tlsBit) >>> 0 },
        seq,
        secure: settings !== false,
        // An empty first answer: RDS switches IAM users to mysql_clear_password, which gets the token.
        initial: { plugin: 'mysql_native_password', authData: Buffer.alloc(0) },
        password: (plugin) => (plugin === 'mysql_clear_password' ? password : undefined),
        timeoutMs: ctx.timeoutMs,
      });
    } catch (err) {
      throw new UpstreamFailure(
        'upstream-unreachable',
        `lost ${connector.host}:${connector.port} during the login (${describeError(err)})`,
      );
    }
    if (outcome.kind === 'ok') return { socket, reader, ok: outcome.payload };
    socket.destroy();
    if (outcome.kind === 'unanswered') {
      throw new UpstreamFailure(
        'token-rejected',
        `the server asks ${connector.user} for ${outcome.plugin}, not mysql_clear_password: IAM authentication is not enabled for this user (IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS')`,
      );
    }
    const err = parseErrPacket(outcome.payload);
    connector.loginFailed(password, { errno: err.errno, sqlState: err.sqlState });
    if (isAccessDenied(outcome.payload)) {
      if (attempt === 0) {
        ctx.onRetry();
        continue;
      }
      throw new UpstreamFailure(
        'token-rejected',
        rejectedTwice(connector, err.message),
        outcome.payload,
      );
    }
    throw new UpstreamFailure('upstream-refused', `${err.errno} ${err.message}`, outcome.payload);
  }
}
