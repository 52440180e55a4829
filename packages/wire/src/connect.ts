import net from 'node:net';

/** Raised by {@link connectWithin} when no connection was made within its bound. */
export class ConnectTimeoutError extends Error {
  /** As Node spells a connection that timed out, for callers that report a code. */
  readonly code = 'ETIMEDOUT';
  constructor(host: string, port: number, timeoutMs: number) {
    super(`${host}:${port} did not accept a connection within ${timeoutMs} ms`);
    this.name = 'ConnectTimeoutError';
  }
}

/**
 * A TCP connection to `host:port` within `timeoutMs`: the wait every client of a database server
 * makes first (the proxy's upstream, doctor's probes, the emulator's check of its upstream), with
 * its bound. Resolves with the socket connected, Nagle off, and no listener of this function left
 * on it (error handling is the caller's from here). Rejects with the socket's own error
 * (`ECONNREFUSED`, `ENOTFOUND`, ...), with a {@link ConnectTimeoutError} after `timeoutMs`, or with
 * `signal`'s reason once it aborts; the socket is destroyed then, and the timer is cleared in
 * every case (it never keeps the process alive).
 *
 * @example
 * ```ts
 * const socket = await connectWithin('127.0.0.1', 5432, 3_000);
 * ```
 */
export function connectWithin(
  host: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const settle = (err?: unknown): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      socket.off('connect', connected);
      socket.off('error', failed);
      if (err === undefined) {
        resolve(socket);
        return;
      }
      socket.destroy();
      reject(err);
    };
    const connected = (): void => settle();
    const failed = (err: Error): void => settle(err);
    const aborted = (): void => settle(signal?.reason);
    const timer = setTimeout(
      () => settle(new ConnectTimeoutError(host, port, timeoutMs)),
      timeoutMs,
    );
    timer.unref();
    signal?.addEventListener('abort', aborted);
    socket.once('connect', connected);
    socket.once('error', failed);
  });
}
