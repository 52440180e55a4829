import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWithin, FrameReader, sendSslRequest, upgradeClientTls } from '../src/index.js';

describe('upgradeClientTls', () => {
  let server: net.Server;
  let port: number;
  beforeAll(async () => {
    // Answers an SSLRequest with 'S' and, in the same write, bytes an attacker on the path slipped
    // in before the handshake (CVE-2021-23222).
    server = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.write(Buffer.from('Sinjected')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('refuses bytes the server sent before the handshake, and closes the socket', async () => {
    const socket = await connectWithin('127.0.0.1', port, 2_000);
    const reader = new FrameReader(socket, 1024);
    expect(await sendSslRequest(reader, (b) => socket.write(b), 2_000)).toBe('S');
    await expect(upgradeClientTls(socket, reader, {}, 2_000)).rejects.toThrow(
      /sent 8 byte\(s\) before the TLS handshake/,
    );
    expect(socket.destroyed).toBe(true);
  });
});
