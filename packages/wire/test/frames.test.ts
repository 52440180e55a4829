import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  bytes,
  FrameReader,
  FrameReaderError,
  messageFraming,
  PostgresProtocolError,
  packetFraming,
} from '../src/index.js';

describe('FrameReader', () => {
  it('reassembles frames written one byte at a time, and keeps what follows', async () => {
    const stream = new PassThrough();
    const reader = new FrameReader(stream, 1024);
    const frame = Buffer.from([0x51, 0, 0, 0, 9, 0x61, 0x62, 0x63, 0x64, 0x00]);
    const next = reader.read(messageFraming);
    for (const b of Buffer.concat([frame, Buffer.from('rest')])) stream.write(Buffer.from([b]));
    expect(await next).toEqual(frame);
    await new Promise((r) => setImmediate(r));
    expect(reader.detach().toString()).toBe('rest');
  });

  it('a declared length above the bound fails at once, without waiting for the bytes', async () => {
    const stream = new PassThrough();
    const reader = new FrameReader(stream, 64);
    const next = reader.read(packetFraming);
    stream.write(Buffer.from([0xff, 0xff, 0xff, 0x00]));
    await expect(next).rejects.toMatchObject({ reason: 'oversize' });
  });

  it('a length no peer sends is the framing error', async () => {
    const stream = new PassThrough();
    const reader = new FrameReader(stream, 64);
    const next = reader.read(messageFraming);
    stream.write(Buffer.from([0x52, 0xff, 0xff, 0xff, 0xfe]));
    await expect(next).rejects.toBeInstanceOf(PostgresProtocolError);
  });

  it('a read has a bound, and a close with half a frame fails it', async () => {
    const stream = new PassThrough();
    const reader = new FrameReader(stream, 64);
    await expect(reader.read(bytes(1), 20)).rejects.toMatchObject({ reason: 'timeout' });
    const next = reader.read(bytes(4));
    stream.end(Buffer.from([1, 2]));
    const err = await next.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FrameReaderError);
    expect((err as FrameReaderError).reason).toBe('closed');
  });

  it('after a flood, detach refuses to hand back a stream cut mid-way, and nothing more is kept', async () => {
    const stream = new PassThrough();
    const reader = new FrameReader(stream, 16);
    const first = reader.read(bytes(4));
    stream.write(Buffer.from('okay'));
    expect((await first).toString()).toBe('okay');
    // A client that floods while its login goes on upstream: the reader drops what it had.
    stream.write(Buffer.alloc(70 * 1024));
    await new Promise((r) => setImmediate(r));
    stream.write(Buffer.from('SELECT 1'));
    await new Promise((r) => setImmediate(r));
    expect(reader.buffered).toBe(0);
    const err = (() => {
      try {
        reader.detach();
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(FrameReaderError);
    expect((err as FrameReaderError).reason).toBe('oversize');
  });

  it('a closed stream still hands back its whole bytes; a second detach throws', async () => {
    const stream = new PassThrough();
    const reader = new FrameReader(stream, 16);
    stream.end(Buffer.from('rest'));
    await new Promise((r) => setImmediate(r));
    expect(reader.detach().toString()).toBe('rest');
    expect(() => reader.detach()).toThrow(FrameReaderError);
  });

  it('a flood while nobody reads is reported to onFailure', async () => {
    const stream = new PassThrough();
    const reader = new FrameReader(stream, 16);
    const failed = new Promise<string>((resolve) => reader.onFailure((e) => resolve(e.reason)));
    stream.write(Buffer.alloc(70 * 1024));
    expect(await failed).toBe('oversize');
  });
});
