import {
  createHash,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign as signData,
} from 'node:crypto';
import { isIP } from 'node:net';

/*
 * X.509 certificates built with node:crypto and a minimal DER encoder (RFC 5280). No third-party
 * dependency: @peculiar/x509 needs a global Reflect metadata polyfill, which a library must not
 * install into its host process.
 */

/**
 * PEM texts of a freshly generated certificate authority and a server certificate it signed.
 * @example
 * ```ts
 * const { caPem, certPem, keyPem }: CertificateAuthority = await createCertificateAuthority();
 * ```
 */
export interface CertificateAuthority {
  /** The CA certificate: what clients trust (`ssl: { ca }`). */
  readonly caPem: string;
  /** The server certificate (leaf), signed by the CA. */
  readonly certPem: string;
  /** The server certificate's private key, PKCS#8 PEM. */
  readonly keyPem: string;
}

/**
 * Options of {@link createCertificateAuthority}.
 * @example
 * ```ts
 * await createCertificateAuthority({ hostnames: ['mydb.abc123.us-east-1.rds.amazonaws.com', '10.0.0.5'] });
 * ```
 */
export interface CertificateAuthorityOptions {
  /**
   * Extra subject alternative names for the server certificate, next to `localhost`, `127.0.0.1`
   * and `::1`: DNS names or IP addresses (e.g. the emulated RDS endpoint name).
   */
  readonly hostnames?: readonly string[];
}

const HOUR_MS = 3_600_000;
const DEFAULT_NAMES = ['localhost', '127.0.0.1', '::1'];

// ---- DER ------------------------------------------------------------------------------------

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bitString = (b: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.from([unusedBits]), b);
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);

function integer(value: Buffer | number): Buffer {
  let b = typeof value === 'number' ? Buffer.from([value]) : value;
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  if (((b[0] ?? 0) & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * (parts[0] ?? 0) + (parts[1] ?? 0)];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let v = Math.floor(part / 128); v > 0; v = Math.floor(v / 128)) {
      chunk.unshift(0x80 | (v & 0x7f));
    }
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = d.getUTCFullYear();
  return year < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) // UTCTime
    : tlv(0x18, Buffer.from(digits, 'ascii')); // GeneralizedTime
}

function name(commonName: string): Buffer {
  return seq(
    set(seq(oid('2.5.4.10'), utf8('rds-iam'))),
    set(seq(oid('2.5.4.3'), utf8(commonName))),
  );
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

/** IPv4 / IPv6 text to its 4 or 16 bytes. */
function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail] = ip.split('::');
  const groups = (s: string): number[] => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(Number.parseInt(g, 16));
      }
    }
    return out;
  };
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const buf = Buffer.alloc(16);
  for (const [i, g] of all.entries()) buf.writeUInt16BE(g & 0xffff, i * 2);
  return buf;
}

// ---- certificates ---------------------------------------------------------------------------

const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2, method 1). */
function keyIdentifier(spki: Buffer): Buffer {
  // P-256 SPKI: SEQUENCE { AlgorithmIdentifier, BIT STRING (00 || 65-byte point) }; the point is last.
  return createHash('sha1')
    .update(spki.subarray(spki.length - 65))
    .digest();
}

interface CertSpec {
  readonly subject: string;
  readonly issuer: string;
  readonly subjectKey: KeyObject;
  readonly signingKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: Buffer[];
}

function buildCertificate(spec: CertSpec): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f || 0x01;
  const tbs = seq(
    explicit(0, integer(2)), // v3
    integer(serial),
    ECDSA_WITH_SHA256,
    name(spec.issuer),
    seq(time(spec.notBefore), time(spec.notAfter)),
    name(spec.subject),
    spkiDer(spec.subjectKey),
    explicit(3, seq(...spec.extensions)),
  );
  const signature = signData('sha256', tbs, spec.signingKey); // DER ECDSA-Sig-Value
  return seq(tbs, ECDSA_WITH_SHA256, bitString(signature));
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Generates an ECDSA P-256 certificate authority and a server certificate signed by it, for the
 * emulator's TLS. The server certificate names `localhost`, `127.0.0.1`, `::1` and any given
 * hostnames (DNS names or IP addresses); both certificates are valid from one hour ago to one year
 * from now. Nothing is written to disk. Takes a few milliseconds.
 *
 * @example
 * ```ts
 * import tls from 'node:tls';
 * import { createCertificateAuthority } from '@rds-iam/emulator';
 *
 * const { caPem, certPem, keyPem } = await createCertificateAuthority({
 *   hostnames: ['mydb.abc123.us-east-1.rds.amazonaws.com'],
 * });
 * const secureContext = tls.createSecureContext({ cert: certPem, key: keyPem });
 * // clients trust caPem: new pg.Client({ ..., ssl: { ca: caPem } })
 * ```
 */
export async function createCertificateAuthority(
  opts: CertificateAuthorityOptions = {},
): Promise<CertificateAuthority> {
  const now = Date.now();
  const notBefore = new Date(now - HOUR_MS);
  const notAfter = new Date(now + 365 * 24 * HOUR_MS);

  const ca = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const leaf = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const caKeyId = keyIdentifier(spkiDer(ca.publicKey));
  const leafKeyId = keyIdentifier(spkiDer(leaf.publicKey));

  const caName = 'rds-iam emulator local CA';
  const caDer = buildCertificate({
    subject: caName,
    issuer: caName,
    subjectKey: ca.publicKey,
    signingKey: ca.privateKey,
    notBefore,
    notAfter,
    extensions: [
      extension('2.5.29.19', true, seq(bool(true), integer(0))), // basicConstraints CA, pathLen 0
      extension('2.5.29.15', true, bitString(Buffer.from([0x06]), 1)), // keyCertSign | cRLSign
      extension('2.5.29.14', false, octets(caKeyId)),
    ],
  });

  const names = [
    ...new Set([...DEFAULT_NAMES, ...(opts.hostnames ?? [])].map((n) => n.trim())),
  ].filter((n) => n !== '');
  const generalNames = names.map((n) =>
    isIP(n) === 0 ? tlv(0x82, Buffer.from(n, 'ascii')) : tlv(0x87, ipBytes(n)),
  );
  const commonName = [...names].reverse().find((n) => isIP(n) === 0) ?? 'localhost';

  const leafDer = buildCertificate({
    subject: commonName,
    issuer: caName,
    subjectKey: leaf.publicKey,
    signingKey: ca.privateKey,
    notBefore,
    notAfter,
    extensions: [
      extension('2.5.29.19', true, seq()), // basicConstraints: not a CA
      extension('2.5.29.15', true, bitString(Buffer.from([0x80]), 7)), // digitalSignature
      extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // serverAuth
      extension('2.5.29.17', false, seq(...generalNames)),
      extension('2.5.29.14', false, octets(leafKeyId)),
      extension('2.5.29.35', false, seq(tlv(0x80, caKeyId))),
    ],
  });

  return {
    caPem: toPem('CERTIFICATE', caDer),
    certPem: toPem('CERTIFICATE', leafDer),
    keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
