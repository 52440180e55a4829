import type { Duplex } from 'node:stream';

/** After one side closed, how long the other gets to flush what it has before it is destroyed. */
const DEFAULT_LINGER_MS = 2_000;

/**
 * Relays bytes both ways between a client and the server behind it once the login is over, with
 * no parsing: `pipe` in each direction, whose backpressure keeps memory flat. A close on one side
 * ends the other gracefully, so that the last bytes in flight (a server's error before it drops a
 * killed session, a client's Terminate) are delivered rather than cut; the other is destroyed once
 * it has flushed, or after `lingerMs`. An error on either side destroys both at once.
 *
 * @example
 * ```ts
 * relay(clientSocket, upstreamSocket);
 * ```
 */
export function relay(a: Duplex, b: Duplex, lingerMs: number = DEFAULT_LINGER_MS): void {
  const destroyBoth = (): void => {
    a.destroy();
    b.destroy();
  };
  const endOther = (other: Duplex) => (): void => {
    if (other.destroyed) {
      destroyBoth();
      return;
    }
    other.end(destroyBoth);
    setTimeout(destroyBoth, lingerMs).unref();
  };
  a.once('close', endOther(b));
  b.once('close', endOther(a));
  a.on('error', destroyBoth);
  b.on('error', destroyBoth);
  a.pipe(b);
  b.pipe(a);
  a.resume();
  b.resume();
}
