import type net from 'node:net';
import tls from 'node:tls';
import { type FrameReader, FrameReaderError } from './frames.js';

/**
 * Switches a client connection to TLS once the protocol agreed to it (PostgreSQL's `S` read,
 * MySQL's SSLRequest sent): stops `reader`, starts TLS as the client on `socket` and resolves once
 * the handshake is over; the caller reads the TLS socket with a new reader. What is verified is
 * what `options` says (the proxy: verify-full against the RDS CAs; doctor's probe: nothing, so that
 * it can describe a failure). Bytes the server sent before the handshake are refused: a server
 * sends none, so someone on the path injected them, for a client that reads them after the
 * handshake to take them as the server's (CVE-2021-23222, the client-side twin of the check in
 * `postgres/startup.ts`).
 * Rejects on them, on a handshake error or after `timeoutMs`, destroying the socket.
 *
 * @example
 * ```ts
 * const secure = await upgradeClientTls(socket, reader, { ca, servername: host }, 5_000);
 * const secureReader = new FrameReader(secure, 65_536);
 * ```
 */
export async function upgradeClientTls(
  socket: net.Socket,
  reader: FrameReader,
  options: tls.ConnectionOptions,
  timeoutMs: number,
): Promise<tls.TLSSocket> {
  let injected: number;
  try {
    injected = reader.detach().length;
  } catch (err) {
    socket.destroy();
    throw err;
  }
  if (injected > 0) {
    socket.destroy();
    throw new Error(
      `the server sent ${injected} byte(s) before the TLS handshake, which no server does: refused as injected on the way`,
    );
  }
  return startTls(socket, options, timeoutMs);
}

/** Starts TLS as the client on `socket`; rejects on a handshake error or after `timeoutMs`. */
function startTls(
  socket: net.Socket,
  options: tls.ConnectionOptions,
  timeoutMs: number,
): Promise<tls.TLSSocket> {
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const secure = tls.connect({ ...options, socket });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(
        new FrameReaderError('timeout', `the TLS handshake did not finish within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    timer.unref();
    const onError = (err: Error): void => {
      clearTimeout(timer);
      secure.destroy();
      reject(err);
    };
    secure.once('error', onError);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.off('error', onError);
      resolve(secure);
    });
  });
}

/** What the server side of a login needs: TLS on offer, the bound on a client's packets, a hook. */
export interface AcceptOptions {
  /** The server certificate, when TLS is offered. */
  readonly secureContext?: tls.SecureContext;
  /** Largest packet a client may send before authentication; larger is hostile. */
  readonly maxPacketBytes: number;
  /** Called with the TLS socket as soon as it exists, for error and close listeners. */
  onTls?(socket: tls.TLSSocket): void;
}

/**
 * Starts TLS as the server on an accepted socket once the protocol has agreed to it (PostgreSQL's
 * `S`, MySQL's SSLRequest). `rest`, the bytes already read past the negotiation (clients send their
 * ClientHello right behind it), goes back into the socket, where the TLS socket reads it first.
 *
 * @example
 * ```ts
 * const secure = upgradeServerTls(raw, reader.detach(), { secureContext, maxPacketBytes: 65_536 });
 * ```
 */
export function upgradeServerTls(
  raw: net.Socket,
  rest: Buffer,
  options: AcceptOptions,
  alpn?: string[],
): tls.TLSSocket {
  raw.pause();
  if (rest.length > 0) raw.unshift(rest);
  const secure = new tls.TLSSocket(raw, {
    isServer: true,
    ...(options.secureContext ? { secureContext: options.secureContext } : {}),
    ...(alpn ? { ALPNProtocols: alpn } : {}),
  });
  options.onTls?.(secure);
  return secure;
}
