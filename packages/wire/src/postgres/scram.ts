import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { PostgresProtocolError } from './messages.js';

/*
 * The password exchanges a PostgreSQL server may ask of a client: md5 and SCRAM-SHA-256
 * (RFC 5802 / RFC 7677, without channel binding), https://www.postgresql.org/docs/current/sasl-authentication.html
 */

/** The md5 answer: `"md5" + md5(md5(password + user) + salt)`; servers check it the same way. */
export function md5Password(password: string, user: string, salt: Buffer): string {
  const inner = createHash('md5')
    .update(password + user)
    .digest('hex');
  return `md5${createHash('md5')
    .update(Buffer.concat([Buffer.from(inner, 'latin1'), salt]))
    .digest('hex')}`;
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function attributes(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part.slice(0, 1), part.slice(2));
  }
  return out;
}

/** Beyond this the server is either hostile or misconfigured; a login must not burn CPU for it. */
const MAX_ITERATIONS = 10_000_000;

/**
 * The client side of one SCRAM-SHA-256 exchange: {@link first} for SASLInitialResponse,
 * {@link final} for the answer to SASLContinue, {@link verifyServer} on SASLFinal.
 *
 * @example
 * ```ts
 * const scram = new ScramClient(password);
 * write(saslInitialResponse('SCRAM-SHA-256', scram.first()));
 * ```
 */
export class ScramClient {
  readonly #password: string;
  readonly #nonce = randomBytes(18).toString('base64');
  readonly #firstBare: string;
  #serverSignature: Buffer | undefined;

  constructor(password: string) {
    this.#password = password;
    this.#firstBare = `n=,r=${this.#nonce}`;
  }

  /** The client-first message (GS2 header, no channel binding). */
  first(): Buffer {
    return Buffer.from(`n,,${this.#firstBare}`, 'utf8');
  }

  /** The client-final message for the server-first message `serverFirst`. */
  final(serverFirst: string): Buffer {
    const attrs = attributes(serverFirst);
    const nonce = attrs.get('r') ?? '';
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    if (
      !nonce.startsWith(this.#nonce) ||
      nonce.length === this.#nonce.length ||
      salt.length === 0 ||
      !Number.isInteger(iterations) ||
      iterations < 1 ||
      iterations > MAX_ITERATIONS
    ) {
      throw new PostgresProtocolError('the server sent an invalid SCRAM challenge');
    }
    const salted = pbkdf2Sync(this.#password.normalize('NFKC'), salt, iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#firstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] ?? 0) ^ (signature[i] ?? 0);
    this.#serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Checks the server-final message: the server proves it knew the password too. */
  verifyServer(serverFinal: string): void {
    const expected = this.#serverSignature;
    const given = Buffer.from(attributes(serverFinal).get('v') ?? '', 'base64');
    if (!expected || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new PostgresProtocolError('the server failed SCRAM server verification');
    }
  }
}
