import { X509Certificate } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, type PeerCertificate, connect as tlsConnect } from 'node:tls';
import { type Engine, RdsIamError } from '@rds-iam/core';

const PG_SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const MYSQL_CLIENT_SSL = 0x800;
// CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
const MYSQL_SSL_REQUEST_CAPABILITIES = 0x1 | 0x200 | MYSQL_CLIENT_SSL | 0x8000 | 0x80000;

/**
 * Opens a TLS session to the server the way its engine's clients do (PostgreSQL SSLRequest, MySQL
 * greeting + SSLRequest), verifies the certificate against `ca` with `tls` (chain and name), and
 * returns the certificates of the chain Node verified, leaf first, root last. Sends no credentials:
 * the socket is closed right after the TLS handshake.
 *
 * @throws {RdsIamError} `ERR_TLS_VERIFY` when the chain or name does not verify, `ERR_TLS_REQUIRED`
 * when the server does not offer TLS.
 */
export async function probeCertificateChain(
  engine: Engine,
  host: string,
  port: number,
  tls: ConnectionOptions,
  timeoutMs = 10_000,
): Promise<PeerCertificate[]> {
  const socket = netConnect({ host, port });
  const timer = setTimeout(
    () => socket.destroy(new Error(`no TLS session after ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    if (engine === 'postgres') await startPostgresTls(socket, host);
    else await startMysqlTls(socket, host);
    const secure = tlsConnect({ ...tls, socket });
    try {
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
      return chainOf(secure.getPeerCertificate(true));
    } finally {
      secure.destroy();
    }
  } catch (err) {
    if (err instanceof RdsIamError) throw err;
    const code = (err as { code?: unknown }).code;
    const verify = typeof code === 'string' && /CERT|SELF_SIGNED|ALTNAME|ISSUER|VERIFY/.test(code);
    throw new RdsIamError(
      verify ? 'ERR_TLS_VERIFY' : 'ERR_INVALID_OPTION',
      verify
        ? `rds-iam: the TLS certificate of '${host}:${port}' did not verify (${code}: ${(err as Error).message}). RDS endpoints verify against the bundled RDS CAs; for anything else (the rds-iam emulator, a proxy with its own certificate) pass its CA as \`ssl: { ca }\`.`
        : `rds-iam: could not open a TLS session to '${host}:${port}' to pick the CA certificate for the Prisma CLI (${(err as Error).message}). Check the host and port, or pass the CA file yourself as \`ssl: { caFile }\`.`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

function chainOf(
  leaf: PeerCertificate & { issuerCertificate?: PeerCertificate },
): PeerCertificate[] {
  const chain: PeerCertificate[] = [];
  let cert: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = leaf;
  while (cert?.raw && !chain.some((c) => c.raw.equals(cert?.raw as Buffer))) {
    chain.push(cert);
    cert = cert.issuerCertificate;
  }
  return chain;
}

function readBytes(
  socket: Socket,
  wanted: (buffered: Buffer) => number | undefined,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const length = wanted(buffered);
      if (length === undefined || buffered.length < length) return;
      cleanup();
      // The server says nothing more until the client speaks (TLS ClientHello or SSLRequest).
      resolve(buffered.subarray(0, length));
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error('the server closed the connection before TLS started'));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
  });
}

async function startPostgresTls(socket: Socket, host: string): Promise<void> {
  socket.write(PG_SSL_REQUEST);
  const answer = await readBytes(socket, () => 1);
  if (answer[0] !== 0x53) {
    throw new RdsIamError(
      'ERR_TLS_REQUIRED',
      `rds-iam: the PostgreSQL server at '${host}' does not offer TLS, which IAM logins require.`,
    );
  }
}

async function startMysqlTls(socket: Socket, host: string): Promise<void> {
  const greeting = await readBytes(socket, (b) =>
    b.length >= 4 ? 4 + (b.readUIntLE(0, 3) as number) : undefined,
  );
  const payload = greeting.subarray(4);
  if (payload[0] === 0xff)
    throw new Error(`the server refused the connection: ${errorText(payload)}`);
  // protocol version, server version (NUL-terminated), connection id, 8 bytes of scramble, filler,
  // then the lower two capability bytes.
  const versionEnd = payload.indexOf(0, 1);
  const capabilities = payload.readUInt16LE(versionEnd + 1 + 4 + 8 + 1);
  if (!(capabilities & MYSQL_CLIENT_SSL)) {
    throw new RdsIamError(
      'ERR_TLS_REQUIRED',
      `rds-iam: the MySQL server at '${host}' does not offer TLS, which IAM logins require.`,
    );
  }
  const request = Buffer.alloc(4 + 32);
  request.writeUIntLE(32, 0, 3);
  request[3] = 1; // sequence id
  request.writeUInt32LE(MYSQL_SSL_REQUEST_CAPABILITIES, 4);
  request.writeUInt32LE(16 * 1024 * 1024, 8);
  request[12] = 45; // utf8mb4_general_ci
  socket.write(request);
}

function errorText(payload: Buffer): string {
  // 0xff, errno (2), '#', sqlstate (5), message
  return payload.subarray(payload[3] === 0x23 ? 9 : 3).toString('utf8');
}

/**
 * The one CA certificate (PEM) from `cas` that anchors the chain the server presented: the root of
 * the verified chain. Prisma's engines load a single certificate from `sslcert`, so a bundle will
 * not do.
 */
export function anchorOf(
  chain: readonly PeerCertificate[],
  cas: readonly string[],
): string | undefined {
  const byDer = new Map<string, string>();
  for (const pem of cas) {
    try {
      byDer.set(new X509Certificate(pem).raw.toString('base64'), pem);
    } catch {
      // Not a certificate: it cannot anchor anything.
    }
  }
  for (const cert of [...chain].reverse()) {
    const pem = byDer.get(cert.raw.toString('base64'));
    if (pem) return pem;
  }
  return undefined;
}
