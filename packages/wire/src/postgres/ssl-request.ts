import { bytes, type FrameReader } from '../frames.js';
import { SSL_REQUEST } from './messages.js';

/**
 * Sends an SSLRequest and reads the server's one-byte answer: `S` (start TLS now), `N` (no TLS), or
 * anything else (not a PostgreSQL server). The reader must then be detached before TLS starts.
 *
 * @example
 * ```ts
 * if ((await sendSslRequest(reader, (b) => socket.write(b), 5_000)) !== 'S') throw new Error('no TLS');
 * ```
 */
export async function sendSslRequest(
  reader: FrameReader,
  write: (data: Buffer) => void,
  timeoutMs?: number,
): Promise<string> {
  write(SSL_REQUEST);
  return (await reader.read(bytes(1), timeoutMs)).toString('latin1');
}
