import { createHash, constants as cryptoConstants, publicEncrypt, randomBytes } from 'node:crypto';

/*
 * What the password plugins send: mysql_native_password and caching_sha2_password scrambles, and
 * caching_sha2_password's full authentication with the server's RSA key.
 */

const sha1 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};
const sha256 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) ^ (b[i % b.length] ?? 0);
  return out;
}

/**
 * mysql_native_password: `SHA1(pw) XOR SHA1(scramble || SHA1(SHA1(pw)))`; the empty password sends
 * empty auth data.
 */
export function nativePasswordAuth(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const pw = Buffer.from(password, 'utf8');
  const stage1 = sha1(pw);
  return xor(stage1, sha1(scramble.subarray(0, 20), sha1(stage1)));
}

/**
 * caching_sha2_password fast path: `SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || scramble)`; the
 * empty password sends empty auth data.
 */
export function cachingSha2Auth(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha256(Buffer.from(password, 'utf8'));
  return xor(stage1, sha256(sha256(stage1), scramble.subarray(0, 20)));
}

/**
 * caching_sha2_password full authentication over a connection without TLS: the NUL-terminated
 * password XOR the scramble, encrypted with the server's RSA public key (OAEP).
 */
export function cachingSha2FullAuth(
  password: string,
  scramble: Buffer,
  publicKeyPem: string,
): Buffer {
  const plain = xor(Buffer.from(`${password}\0`, 'utf8'), scramble.subarray(0, 20));
  return publicEncrypt(
    { key: publicKeyPem, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING },
    plain,
  );
}

/** A 20-byte scramble of printable bytes: it travels NUL-terminated, so it must hold no NUL. */
export function scramble(): Buffer {
  const bytes = randomBytes(20);
  for (let i = 0; i < bytes.length; i++) bytes[i] = 0x21 + ((bytes[i] ?? 0) % 94);
  return bytes;
}
