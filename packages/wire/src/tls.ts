import type net from 'node:net';
import tls from 'node:tls';
import { FrameReaderError } from './frames.js';

/**
 * Starts TLS as the client on a connected socket (after the protocol's own negotiation: PostgreSQL's
 * SSLRequest, MySQL's SSLRequest packet) and resolves once the handshake is over. What is verified
 * is what `options` says (the proxy: verify-full against the RDS CAs; doctor's probe: nothing, so
 * that it can describe a failure). Rejects on a handshake error or after `timeoutMs`, destroying the
 * socket.
 *
 * @example
 * ```ts
 * const secure = await startTls(socket, { ca, servername: host }, 5_000);
 * ```
 */
export function startTls(
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
