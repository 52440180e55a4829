import type { FrameReader, Framing } from '../frames.js';

/*
 * PostgreSQL protocol 3.0 messages: https://www.postgresql.org/docs/current/protocol-message-formats.html
 * Start-up packets carry no type byte (Int32 length, Int32 code, body); every later message is a
 * type byte, an Int32 length that counts itself, and a body.
 */

/** The code of an SSLRequest (1234.5679). */
export const SSL_REQUEST_CODE = 80877103;
/** The code of a GSSENCRequest (1234.5680). */
export const GSSENC_REQUEST_CODE = 80877104;
/** The code of a CancelRequest (1234.5678). */
export const CANCEL_REQUEST_CODE = 80877102;
/** Protocol 3.0 in a StartupMessage. */
export const PROTOCOL_3_0 = 3 << 16;
/** The first byte of a TLS handshake record: a ClientHello sent with no SSLRequest (direct TLS). */
export const TLS_HANDSHAKE_RECORD = 0x16;

/** Authentication request codes of an `R` message. */
export const AuthCode = {
  OK: 0,
  KERBEROS_V5: 2,
  CLEARTEXT: 3,
  MD5: 5,
  GSS: 7,
  SSPI: 9,
  SASL: 10,
  SASL_CONTINUE: 11,
  SASL_FINAL: 12,
} as const;

/** Thrown on bytes that are not the PostgreSQL protocol (or not at this point of it). */
export class PostgresProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PostgresProtocolError';
  }
}

/** One typed message: its type letter, its body, and the whole frame as received. */
export interface PostgresMessage {
  readonly type: string;
  readonly body: Buffer;
  readonly raw: Buffer;
}

/** Framing of a start-up packet (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest). */
export const startupFraming: Framing = (buf) => {
  if (buf.length < 4) return -1;
  const length = buf.readInt32BE(0);
  if (length < 8) throw new PostgresProtocolError(`invalid start-up packet length ${length}`);
  return length;
};

/** Framing of a typed message. */
export const messageFraming: Framing = (buf) => {
  if (buf.length < 5) return -1;
  const length = buf.readInt32BE(1);
  if (length < 4) throw new PostgresProtocolError(`invalid message length ${length}`);
  return length + 1;
};

/** Reads one typed message. */
export async function readMessage(
  reader: FrameReader,
  timeoutMs?: number,
): Promise<PostgresMessage> {
  const raw = await reader.read(messageFraming, timeoutMs);
  return { type: String.fromCharCode(raw[0] ?? 0), body: raw.subarray(5), raw };
}

/** A typed message. */
export function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A big-endian Int32. */
export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}

/** A NUL-terminated UTF-8 string. */
export function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8');
}

/** The 8-byte SSLRequest. */
export const SSL_REQUEST: Buffer = Buffer.concat([int32(8), int32(SSL_REQUEST_CODE)]);

/** A StartupMessage for protocol 3.0 with `params` (`user` among them). */
export function startupMessage(params: ReadonlyMap<string, string>): Buffer {
  const parts: Buffer[] = [int32(PROTOCOL_3_0)];
  for (const [k, v] of params) parts.push(cstr(k), cstr(v));
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  return Buffer.concat([int32(body.length + 4), body]);
}

/** An authentication request (`R`) with its code and extra data (a salt, SASL data). */
export function authRequest(code: number, extra: Buffer = Buffer.alloc(0)): Buffer {
  return message('R', Buffer.concat([int32(code), extra]));
}

/** A PasswordMessage (`p`) carrying `text` NUL-terminated. */
export function passwordMessage(text: string): Buffer {
  return message('p', cstr(text));
}

/** A simple Query (`Q`). */
export function queryMessage(sql: string): Buffer {
  return message('Q', cstr(sql));
}

/** Terminate (`X`). */
export const TERMINATE: Buffer = message('X', Buffer.alloc(0));

/**
 * NegotiateProtocolVersion (`v`): the newest minor version we speak (0) and the `_pq_.` options we
 * do not know, as a 3.0 server tells a client that asked for more.
 */
export function negotiateProtocolVersion(unsupported: readonly string[]): Buffer {
  return message(
    'v',
    Buffer.concat([int32(0), int32(unsupported.length), ...unsupported.map((k) => cstr(k))]),
  );
}

/** ErrorResponse (`E`) with severity, SQLSTATE and message. */
export function errorResponse(severity: string, code: string, text: string): Buffer {
  return message(
    'E',
    Buffer.concat([
      Buffer.from('S'),
      cstr(severity),
      Buffer.from('V'),
      cstr(severity),
      Buffer.from('C'),
      cstr(code),
      Buffer.from('M'),
      cstr(text),
      Buffer.from([0]),
    ]),
  );
}

/** Fields of an ErrorResponse / NoticeResponse body, keyed by their one-letter codes. */
export function parseFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const key = String.fromCharCode(body[i] ?? 0);
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    fields.set(key, body.toString('utf8', i + 1, end));
    i = end + 1;
  }
  return fields;
}

/** The name/value pairs of a StartupMessage body (after the protocol code). */
export function parseStartupParams(body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  let i = 0;
  for (;;) {
    const kEnd = body.indexOf(0, i);
    if (kEnd < 0) throw new PostgresProtocolError('unterminated startup packet');
    if (kEnd === i) return params; // the terminating empty name
    const vEnd = body.indexOf(0, kEnd + 1);
    if (vEnd < 0) throw new PostgresProtocolError('unterminated startup value');
    params.set(body.toString('utf8', i, kEnd), body.toString('utf8', kEnd + 1, vEnd));
    i = vEnd + 1;
  }
}
