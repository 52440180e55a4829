import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWithin } from '../src/index.js';

describe('connectWithin', () => {
  let server: net.Server;
  let port: number;
  beforeAll(async () => {
    server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A port nothing listens on: one the OS gave and took back. */
  async function closedPort(): Promise<number> {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const free = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    return free;
  }

  it('resolves with the connected socket, and leaves no listener of its own on it', async () => {
    const socket = await connectWithin('127.0.0.1', port, 2_000);
    expect(socket.remotePort).toBe(port);
    expect(socket.listenerCount('error')).toBe(0);
    expect(socket.listenerCount('connect')).toBe(0);
    socket.destroy();
  });

  it("rejects with the socket's own error when nothing listens", async () => {
    await expect(connectWithin('127.0.0.1', await closedPort(), 2_000)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });

  it("rejects with the signal's reason: aborted before, or while it connects", async () => {
    const before = new AbortController();
    before.abort(new Error('stopped before'));
    await expect(connectWithin('127.0.0.1', port, 2_000, before.signal)).rejects.toThrow(
      'stopped before',
    );
    const during = new AbortController();
    const pending = connectWithin('127.0.0.1', port, 2_000, during.signal);
    during.abort(new Error('stopped meanwhile'));
    await expect(pending).rejects.toThrow('stopped meanwhile');
  });
});
