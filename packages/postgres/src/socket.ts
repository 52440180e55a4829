import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { type IamConnector, RdsIamError } from '@rds-iam/core';
import type { IamLogins } from './login.js';

// PostgreSQL's SSLRequest: length 8, code 80877103.
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const SSL_ACCEPTED = 0x53; // 'S'

/** What postgres.js passes to its `socket` option: its parsed options. */
interface ParsedOptions {
  connect_timeout?: number;
}

/**
 * postgres.js's `socket` option: dials the endpoint, negotiates TLS (verified as rds-iam's `ssl`
 * says) and hands postgres.js a socket whose login rds-iam watches (`iamLogins`). rds-iam does
 * the TLS itself so that it can read the login's messages; postgres.js is given `ssl: false` and
 * speaks through this socket. A certificate that does not verify fails with `ERR_TLS_VERIFY` before
 * any token is minted.
 */
export function iamSocket(
  connector: IamConnector,
  logins: IamLogins,
): (options?: ParsedOptions) => Promise<net.Socket> {
  return (options) =>
    connector.connect(() => dial(connector, logins, options?.connect_timeout ?? 30));
}

async function dial(
  connector: IamConnector,
  logins: IamLogins,
  timeoutSeconds: number,
): Promise<net.Socket> {
  const { host, port } = connector;
  const raw = net.connect({ host, port });
  // postgres.js starts its own connect timer only once it has the socket.
  const timer = setTimeout(
    () =>
      raw.destroy(
        Object.assign(
          new Error(`rds-iam: connecting to ${host}:${port} timed out after ${timeoutSeconds} s`),
          {
            code: 'CONNECT_TIMEOUT',
          },
        ),
      ),
    timeoutSeconds * 1000,
  );
  timer.unref();
  try {
    await once(raw, 'connect');
    const ssl = connector.tls.sharedSsl;
    if (ssl === false) return logins.watch(raw);
    raw.write(SSL_REQUEST);
    const [answer] = (await once(raw, 'data')) as [Buffer];
    if (answer[0] !== SSL_ACCEPTED) {
      throw new RdsIamError(
        'ERR_TLS_REQUIRED',
        `rds-iam: ${host}:${port} does not accept TLS, so the IAM token was not sent. RDS always accepts TLS; check that host and port name the database endpoint.`,
      );
    }
    const secure = tls.connect({ ...ssl, socket: raw });
    await once(secure, 'secureConnect');
    return logins.watch(secure);
  } catch (err) {
    raw.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
