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

  it('a flood while nobody reads is reported to onFailure', async () => {
    const stream = new PassThrough();
    const reader = new FrameReader(stream, 16);
    const failed = new Promise<string>((resolve) => reader.onFailure((e) => resolve(e.reason)));
    stream.write(Buffer.alloc(70 * 1024));
    expect(await failed).toBe('oversize');
  });
});
