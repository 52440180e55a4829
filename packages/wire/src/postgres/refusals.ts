import { errorResponse } from './messages.js';

/*
 * PostgreSQL refusals as RDS words them, so that a client of the emulator or the proxy reads the
 * same error, SQLSTATE included, as it would from RDS.
 */

/** RDS's rejection of an IAM token: `FATAL 28P01 PAM authentication failed for user "u"`. */
export function pamAuthenticationFailed(user: string): Buffer {
  return errorResponse('FATAL', '28P01', `PAM authentication failed for user "${user}"`);
}

/** A password login refused: `FATAL 28P01 password authentication failed for user "u"`. */
export function passwordAuthenticationFailed(user: string): Buffer {
  return errorResponse('FATAL', '28P01', `password authentication failed for user "${user}"`);
}

/**
 * A login over plaintext where only `hostssl` lines admit IAM users (RDS's pg_hba.conf):
 * `FATAL 28000 pg_hba.conf rejects connection for host "h", user "u", database "d", no encryption`.
 */
export function noEncryption(host: string, user: string, database: string): Buffer {
  return errorResponse(
    'FATAL',
    '28000',
    `pg_hba.conf rejects connection for host "${host}", user "${user}", database "${database}", no encryption`,
  );
}

/** A start-up packet without a user name. */
export function noUserName(): Buffer {
  return errorResponse('FATAL', '28000', 'no PostgreSQL user name specified in startup packet');
}

/** A protocol version other than 3.x. */
export function unsupportedProtocol(major: number, minor: number): Buffer {
  return errorResponse(
    'FATAL',
    '0A000',
    `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`,
  );
}
