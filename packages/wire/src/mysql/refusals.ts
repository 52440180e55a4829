import { errPacket } from './packets.js';

/*
 * MySQL / MariaDB error numbers (include/mysqld_error.h, errmsg.h) and refusals as RDS words them,
 * so that a client of the emulator or the proxy reads what it would read from RDS.
 */

export const ER_ACCESS_DENIED = 1045;
export const ER_HANDSHAKE_ERROR = 1043;
export const ER_NOT_SUPPORTED_AUTH_MODE = 1251;
export const ER_NET_PACKETS_OUT_OF_ORDER = 1156;
export const ER_UNKNOWN_ERROR = 1105;
export const ER_SECURE_TRANSPORT_REQUIRED = 3159;
/**
 * Client-library numbers for "can't connect" / "lost connection": no server code says "the server
 * behind me is unreachable", and these read right in every driver's error text. Deliberately not
 * 1045, which drivers and `isAuthRejection` treat as "token rejected, mint a new one".
 */
export const CR_CONN_HOST_ERROR = 2003;
export const CR_SERVER_LOST = 2013;

/** RDS's rejection of a token: ERR 1045 / 28000 `Access denied for user 'u'@'h' (using password: YES)`. */
export function accessDenied(user: string, clientHost: string): Buffer {
  return errPacket(
    ER_ACCESS_DENIED,
    '28000',
    `Access denied for user '${user}'@'${clientHost}' (using password: YES)`,
  );
}

/** What RDS answers a login without TLS when `require_secure_transport` is on (ERR 3159). */
export function secureTransportRequired(): Buffer {
  return errPacket(
    ER_SECURE_TRANSPORT_REQUIRED,
    '08004',
    'Connections using insecure transport are prohibited while --require_secure_transport=ON.',
  );
}

/** ERR 1043 `Bad handshake`. */
export function badHandshake(): Buffer {
  return errPacket(ER_HANDSHAKE_ERROR, '08S01', 'Bad handshake');
}

/** ERR 1156 `Got packets out of order`. */
export function packetsOutOfOrder(): Buffer {
  return errPacket(ER_NET_PACKETS_OUT_OF_ORDER, '08S01', 'Got packets out of order');
}

/** ERR 1251: the client cannot do pluggable authentication (or the 4.1 protocol). */
export function authModeNotSupported(): Buffer {
  return errPacket(
    ER_NOT_SUPPORTED_AUTH_MODE,
    '08004',
    'Client does not support authentication protocol requested by server; consider upgrading MySQL client',
  );
}

/** The client's address as servers print it in `'user'@'host'` (no IPv4-mapped prefix). */
export function clientHostOf(address: string | undefined): string {
  const a = address ?? 'localhost';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** Whether a packet is an ERR packet with errno 1045. */
export function isAccessDenied(packet: Buffer): boolean {
  return packet[0] === 0xff && packet.length >= 3 && packet.readUInt16LE(1) === ER_ACCESS_DENIED;
}
