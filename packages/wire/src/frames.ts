import type { Duplex } from 'node:stream';

/**
 * How long the next frame is, given the bytes buffered so far: its whole length (header included)
 * once the header is there, or -1 while more bytes are needed to tell. Throws on a header that no
 * peer of the protocol would send (a length below the header's own size).
 */
export type Framing = (buffered: Buffer) => number;

/** Why a {@link FrameReader} stopped: stable strings that front ends log and tests match. */
export type FrameReaderFailure = 'closed' | 'oversize' | 'error' | 'detached' | 'timeout';

/** Raised by {@link FrameReader.read} once its stream can no longer produce the frame. */
export class FrameReaderError extends Error {
  readonly reason: FrameReaderFailure;
  constructor(reason: FrameReaderFailure, message?: string) {
    super(message ?? `the byte stream ${reason === 'closed' ? 'was closed' : reason}`);
    this.name = 'FrameReaderError';
    this.reason = reason;
  }
}

/** The frame length of exactly `n` bytes, whatever they hold. */
export const bytes =
  (n: number): Framing =>
  () =>
    n;

/**
 * Cuts a byte stream into frames during a login, when each side sends a few small messages and
 * waits. Chunks may split or merge frames anywhere (TCP, TLS records), so bytes are buffered until a
 * whole frame is there. A frame longer than `maxFrame` (header included), or more buffered bytes than a login can
 * legitimately queue, fails the reader (a hostile peer) instead of buffering without bound.
 *
 * {@link detach} hands the stream back, paused, with the bytes read but not consumed: for a TLS
 * upgrade, or for the byte relay after authentication.
 *
 * @example
 * ```ts
 * const reader = new FrameReader(socket, 65_536);
 * const header = await reader.read(bytes(1), 5_000); // 'S' or 'N' after an SSLRequest
 * ```
 */
export class FrameReader {
  #buffered: Buffer = Buffer.alloc(0);
  #failure: FrameReaderError | undefined;
  #waiter:
    | {
        framing: Framing;
        resolve: (frame: Buffer) => void;
        reject: (e: Error) => void;
        timer: NodeJS.Timeout | undefined;
      }
    | undefined;
  #onFailure: ((error: FrameReaderError) => void) | undefined;
  #detached = false;
  readonly #stream: Duplex;
  readonly #maxFrame: number;
  readonly #maxBuffered: number;
  readonly #onData = (chunk: Buffer): void => {
    // After a flood the buffer was dropped: what follows is no frame of anything, and keeping it
    // would let the flood grow without bound while the login goes on elsewhere.
    if (this.#failure) return;
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    if (this.#buffered.length > this.#maxBuffered) this.#fail('oversize');
    else this.#check();
  };
  readonly #onEnd = (): void => this.#fail('closed');
  readonly #onError = (): void => this.#fail('error');

  constructor(stream: Duplex, maxFrame: number) {
    this.#stream = stream;
    this.#maxFrame = maxFrame;
    // A well-behaved peer queues at most one frame plus the start of what follows it (a TLS
    // ClientHello right behind an SSLRequest, a query pipelined behind the password); allow some
    // slack, never unbounded growth.
    this.#maxBuffered = Math.max(2 * maxFrame, 64 * 1024);
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('close', this.#onEnd);
    stream.on('error', this.#onError);
    stream.resume();
  }

  /** Bytes received and not yet consumed as frames. */
  get buffered(): number {
    return this.#buffered.length;
  }

  /** Whether the first byte waiting is `byte` (direct TLS starts with a handshake record). */
  startsWith(byte: number): boolean {
    return this.#buffered[0] === byte;
  }

  /**
   * Called once when the stream fails while no read is pending (the peer closed, or flooded): a
   * front end waiting on the other side learns of it at once.
   */
  onFailure(listener: (error: FrameReaderError) => void): void {
    this.#onFailure = listener;
    if (this.#failure && !this.#waiter) listener(this.#failure);
  }

  /**
   * The next whole frame, header included; rejects with a {@link FrameReaderError} once none can
   * come (or after `timeoutMs`, when given), or with what `framing` throws. One read at a time.
   */
  read(framing: Framing, timeoutMs?: number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      if (this.#waiter) {
        reject(new Error('FrameReader.read called while a read is pending'));
        return;
      }
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              if (this.#waiter?.timer !== timer) return;
              this.#waiter = undefined;
              reject(new FrameReaderError('timeout', `no answer within ${timeoutMs} ms`));
            }, timeoutMs);
      timer?.unref();
      this.#waiter = { framing, resolve, reject, timer };
      this.#check();
    });
  }

  /**
   * Stops reading: pauses the stream, removes this reader's listeners, rejects a pending read and
   * returns the bytes received but not yet consumed. Throws a {@link FrameReaderError} instead when
   * the reader failed (flooded, errored) or was detached before: the bytes it holds are then not the
   * rest of the stream, and a relay started with them would start mid-stream. A stream that was
   * closed lost nothing: its bytes are handed back.
   */
  detach(): Buffer {
    if (this.#detached) throw new FrameReaderError('detached');
    this.#detached = true;
    this.#stream.pause();
    this.#stream.off('data', this.#onData);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('close', this.#onEnd);
    this.#stream.off('error', this.#onError);
    const rest = this.#buffered;
    this.#buffered = Buffer.alloc(0);
    this.#onFailure = undefined;
    const failure = this.#failure;
    this.#fail('detached');
    if (failure && failure.reason !== 'closed') throw failure;
    return rest;
  }

  #fail(reason: FrameReaderFailure): void {
    if (this.#failure) return;
    this.#failure = new FrameReaderError(reason);
    // Garbage is not worth keeping; after a clean close, whole frames still buffered are delivered.
    if (reason === 'oversize') this.#buffered = Buffer.alloc(0);
    if (this.#waiter) this.#check();
    else this.#onFailure?.(this.#failure);
  }

  #check(): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    let length: number;
    try {
      length = waiter.framing(this.#buffered);
    } catch (err) {
      this.#settle();
      waiter.reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (length > this.#maxFrame) {
      this.#settle();
      this.#buffered = Buffer.alloc(0);
      this.#failure ??= new FrameReaderError('oversize');
      waiter.reject(this.#failure);
      return;
    }
    if (length >= 0 && this.#buffered.length >= length) {
      this.#settle();
      const frame = this.#buffered.subarray(0, length);
      this.#buffered = this.#buffered.subarray(length);
      waiter.resolve(frame);
      return;
    }
    if (this.#failure) {
      this.#settle();
      waiter.reject(this.#failure);
    }
  }

  #settle(): void {
    clearTimeout(this.#waiter?.timer);
    this.#waiter = undefined;
  }
}
