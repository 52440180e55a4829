import type net from 'node:net';
import { relay } from './relay.js';

/** After a last message is sent, how long the client gets to read it and close. */
const LINGER_MS = 2_000;

/** Thrown inside a login to end it: the client has its answer (or is gone), nothing more to do. */
export class LoginEnded extends Error {
  constructor() {
    super('login ended');
    this.name = 'LoginEnded';
  }
}

/**
 * The life of one client connection of a front end (the emulator's, the proxy's) up to the relay:
 * the client socket (plain, then TLS), the upstream socket once dialled, one handshake timer, and
 * the rules every path keeps: a close or error on either side destroys both, every timer is
 * cleared, a last message is delivered before the close, and nothing is left behind.
 *
 * @example
 * ```ts
 * const session = new LoginSession(socket, 10_000, () => session.close());
 * session.upstream = net.connect({ host, port });
 * // ... login ...
 * session.startRelay(Buffer.alloc(0), Buffer.alloc(0));
 * ```
 */
export class LoginSession {
  readonly raw: net.Socket;
  /** The client as the protocol sees it: `raw`, or the TLS socket wrapped around it. */
  #client: net.Socket;
  #upstream: net.Socket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #linger: NodeJS.Timeout | undefined;
  #state: 'login' | 'ending' | 'relay' | 'closed' = 'login';

  /** Destroys everything this session owns. Idempotent; safe from any callback. */
  readonly close = (): void => {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#timer);
    clearTimeout(this.#linger);
    this.#timer = undefined;
    this.#client.destroy();
    this.raw.destroy();
    this.#upstream?.destroy();
  };

  /**
   * @param raw the accepted socket
   * @param timeoutMs the whole login must end within this
   * @param onExpired what to do when it does not (default: close)
   */
  constructor(raw: net.Socket, timeoutMs: number, onExpired?: () => void) {
    this.raw = raw;
    this.#client = raw;
    raw.setNoDelay?.(true);
    raw.on('error', this.close);
    raw.on('close', this.close);
    this.#timer = setTimeout(onExpired ?? this.close, timeoutMs);
    this.#timer.unref();
    if (raw.destroyed) this.close();
  }

  /** Whether the login is over without a relay: closed, or a last message on its way. */
  get closed(): boolean {
    return this.#state === 'closed' || this.#state === 'ending';
  }

  /** Replaces the login's timer: a new bound for the next phase (the upstream login). */
  restartTimer(timeoutMs: number, onExpired: () => void): void {
    if (this.#state !== 'login') return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(onExpired, timeoutMs);
    this.#timer.unref();
  }

  get client(): net.Socket {
    return this.#client;
  }

  /** The client socket after a TLS upgrade: its errors and close end the session too. */
  set client(socket: net.Socket) {
    this.#client = socket;
    socket.on('error', this.close);
    socket.on('close', this.close);
  }

  get upstream(): net.Socket | undefined {
    return this.#upstream;
  }

  /** The upstream socket, once dialled: destroyed with the session. */
  set upstream(socket: net.Socket | undefined) {
    this.#upstream = socket;
    if (socket && this.closed) socket.destroy();
  }

  /** Writes to the client while it can take it. */
  write(data: Buffer): void {
    if (!this.#client.destroyed && this.#client.writable) this.#client.write(data);
  }

  /**
   * Sends a last message, drops upstream, and closes once the client has read it (or after a
   * grace period). Throws {@link LoginEnded} so that the login stops where it is.
   */
  finish(last: Buffer): never {
    this.end(last);
    throw new LoginEnded();
  }

  /** {@link finish} without the throw: for a timer's callback. */
  end(last: Buffer): void {
    if (this.#state === 'login') {
      this.#state = 'ending';
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#upstream?.destroy();
      if (!this.#client.destroyed && this.#client.writable) this.#client.end(last);
      this.#linger = setTimeout(this.close, LINGER_MS);
      this.#linger.unref();
    }
  }

  /**
   * The login is over: stop the clock, send each side what the other had already sent, and relay
   * bytes both ways without parsing them.
   */
  startRelay(toClient: Buffer, toUpstream: Buffer): void {
    const upstream = this.#upstream;
    if (this.#state !== 'login' || !upstream) {
      if (this.#state !== 'ending') this.close();
      throw new LoginEnded();
    }
    this.#state = 'relay';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // From here a close on one side ends the other gracefully (see relay): no more hard closes.
    this.raw.off('close', this.close);
    this.#client.off('close', this.close);
    if (toClient.length > 0) this.#client.write(toClient);
    if (toUpstream.length > 0) upstream.write(toUpstream);
    relay(this.#client, upstream);
  }
}
