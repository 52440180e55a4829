import net from 'node:net';
import tls from 'node:tls';
import { ConnectTimeoutError, connectWithin, FrameReader, upgradeClientTls } from '@rds-iam/wire';

/** A server's handshake message larger than this is not a database server's. */
const MAX_FRAME = (1 << 20) + 5;

/** What the TCP step found. */
export interface TcpResult {
  ok: boolean;
  ms?: number;
  address?: string;
  error?: { code: string; message: string };
}

/** Opens a TCP connection within `timeoutMs`; the socket only when it connected. */
export async function connectTcp(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ socket?: net.Socket; result: TcpResult }> {
  const started = performance.now();
  try {
    const socket = await connectWithin(host, port, timeoutMs);
    return {
      socket,
      result: {
        ok: true,
        ms: Math.round(performance.now() - started),
        address: `${socket.remoteAddress}:${socket.remotePort}`,
      },
    };
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    return {
      result: {
        ok: false,
        error:
          err instanceof ConnectTimeoutError
            ? { code: err.code, message: `no answer within ${timeoutMs} ms` }
            : { code: code ?? 'ERROR', message },
      },
    };
  }
}

/** What the TLS step found. */
export interface TlsResult {
  ok: boolean;
  /** False when the server does not offer TLS at all. */
  offered: boolean;
  protocol?: string;
  cipher?: string;
  subject?: string;
  issuer?: string;
  validTo?: string;
  altNames?: string;
  /** OpenSSL / Node verification error code, e.g. `SELF_SIGNED_CERT_IN_CHAIN`, `ERR_TLS_CERT_ALTNAME_INVALID`. */
  verifyError?: string;
  message?: string;
}

/** The TLS settings of a probe: the CAs and the name the certificate must carry. */
export interface ProbeTls {
  ca: string[];
  /** Hostname or IP the certificate must be valid for (the signing host). */
  identity: string;
}

/**
 * A probe's connection: the socket, its frame reader, a TLS upgrade that reports what the server
 * presented, and one bound on all of it: when `timeoutMs` (counted from `startedAt`, before the TCP
 * connection) has passed, the socket is destroyed and the step that was waiting fails as timed out,
 * as the proxy's `connectTimeoutMs` bounds its whole upstream login.
 */
export class ProbeConnection {
  #socket: net.Socket;
  #reader: FrameReader;
  #expired = false;
  readonly #timer: NodeJS.Timeout;
  /** Rejects when the bound runs out: what a wait that a destroyed socket does not end races. */
  readonly #expiry: Promise<never>;
  /** The probe's bound; each wait is given it whole, the deadline ends them sooner. */
  readonly timeoutMs: number;

  constructor(socket: net.Socket, timeoutMs: number, startedAt = performance.now()) {
    this.#socket = socket;
    this.#reader = new FrameReader(socket, MAX_FRAME);
    this.timeoutMs = timeoutMs;
    const left = Math.max(1, startedAt + timeoutMs - performance.now());
    let expire: (err: Error) => void = () => {};
    this.#expiry = new Promise<never>((_resolve, reject) => {
      expire = reject;
    });
    this.#expiry.catch(() => {});
    // Destroying the socket ends a pending read (the reader fails as closed); a TLS handshake in
    // progress is not always told, hence the race in `upgrade`.
    this.#timer = setTimeout(() => {
      this.#expired = true;
      this.#socket.destroy();
      expire(new Error(`no answer within ${timeoutMs} ms`));
    }, left);
  }

  /**
   * What a step that threw `err` reports: the bound when it ran out (code `ETIMEDOUT`), else
   * `describe(err)` and the error's own code.
   */
  failure(err: unknown, describe: (err: unknown) => string): { text: string; code?: string } {
    if (this.#expired) return { text: `no answer within ${this.timeoutMs} ms`, code: 'ETIMEDOUT' };
    const code = (err as { code?: unknown } | null)?.code;
    return { text: describe(err), ...(typeof code === 'string' ? { code } : {}) };
  }

  get reader(): FrameReader {
    return this.#reader;
  }

  readonly write = (data: Buffer): void => {
    this.#socket.write(data);
  };

  /**
   * Upgrades to TLS and reports what the server presented. The handshake itself accepts any
   * certificate so that a failure can be described; `ok` is true only when the chain verifies against
   * `ca` and the certificate names `identity`. Callers must not send anything secret unless `ok`.
   */
  async upgrade(options: ProbeTls): Promise<TlsResult> {
    const isName = net.isIP(options.identity) === 0;
    const handshake = upgradeClientTls(
      this.#socket,
      this.#reader,
      {
        ca: options.ca,
        ...(isName ? { servername: options.identity } : {}),
        rejectUnauthorized: false,
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(options.identity, cert),
      },
      this.timeoutMs,
    );
    handshake.catch(() => {});
    const socket = await Promise.race([handshake, this.#expiry]);
    this.#socket = socket;
    this.#reader = new FrameReader(socket, MAX_FRAME);
    const cert = socket.getPeerCertificate();
    const result: TlsResult = {
      ok: socket.authorized,
      offered: true,
      protocol: socket.getProtocol() ?? undefined,
      cipher: socket.getCipher()?.name,
      subject: describeName(cert?.subject),
      issuer: describeName(cert?.issuer),
      validTo: cert?.valid_to,
      altNames: cert?.subjectaltname,
    };
    if (!socket.authorized) {
      const reason = socket.authorizationError as unknown;
      result.verifyError =
        typeof reason === 'string'
          ? reason
          : ((reason as { code?: string } | null)?.code ?? String(reason));
      result.message =
        reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : undefined;
    }
    return result;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#socket.destroy();
  }
}

function describeName(name: unknown): string | undefined {
  if (!name || typeof name !== 'object') return undefined;
  const fields = name as Record<string, string | string[] | undefined>;
  const pick = (key: string): string | undefined => {
    const v = fields[key];
    return Array.isArray(v) ? v.join('+') : v;
  };
  return (
    [pick('CN') && `CN=${pick('CN')}`, pick('O') && `O=${pick('O')}`].filter(Boolean).join(', ') ||
    undefined
  );
}

/** The reply of the server to the login, whatever the protocol. */
export interface LoginResult {
  outcome:
    | 'accepted'
    /** The server refused the token (or the user). */
    | 'rejected'
    /** The server asked for another authentication method than a cleartext password. */
    | 'not-iam'
    /** The server let the user in without asking for any password. */
    | 'no-password'
    /** The conversation failed (closed, timeout, protocol error). */
    | 'error';
  serverVersion?: string;
  /** What the server asked for (PostgreSQL auth request or MySQL plugin). */
  method?: string;
  error?: { code?: string; errno?: number; sqlState?: string; message: string };
}

/** The server's clock read after a login, with the local time it is compared to. */
export interface ServerTime {
  serverMs: number;
  localMs: number;
  roundTripMs: number;
}

/** Everything a probe found, step by step; later steps are absent when an earlier one failed. */
export interface ProbeResult {
  tcp: TcpResult;
  tls?: TlsResult;
  login?: LoginResult;
  serverTime?: ServerTime;
  serverTimeError?: string;
}

/** The step a probe was in after the TCP connection. */
export type ProbePhase = 'tls' | 'login' | 'time';

/** Records where a probe stopped, and why, in `result`. */
export function recordFailure(
  result: ProbeResult,
  phase: ProbePhase,
  failure: { text: string; code?: string },
): void {
  const { text, code } = failure;
  if (phase === 'tls') {
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
}

/** What a probe needs. Without `token`, it stops after TLS (nothing secret is sent). */
export interface ProbeOptions {
  host: string;
  port: number;
  user: string;
  database?: string;
  tls: ProbeTls;
  /** The bound on the whole probe: TCP, TLS, login and the server clock together. */
  timeoutMs: number;
  token?: string;
}
