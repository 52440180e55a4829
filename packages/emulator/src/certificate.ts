import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign as signData,
  X509Certificate,
} from 'node:crypto';
import { isIP } from 'node:net';

/*
 * X.509 certificates built with node:crypto and a minimal DER encoder (RFC 5280). No third-party
 * dependency: @peculiar/x509 needs a global Reflect metadata polyfill, which a library must not
 * install into its host process.
 */

/**
 * A certificate authority as PEM texts: its certificate and its private key. What
 * `emulator.certificateAuthority` exposes and what the `certificateAuthority` option of
 * {@link createCertificateAuthority} and `startEmulator` takes, to issue server certificates from
 * the same CA across restarts. `keyPem` is a secret, meant for tests and local use only: whoever has
 * it can issue certificates that clients trusting `certPem` accept.
 * @example
 * ```ts
 * const first = await createCertificateAuthority();
 * const ca: CertificateAuthorityPem = { certPem: first.caPem, keyPem: first.caKeyPem };
 * const again = await createCertificateAuthority({ certificateAuthority: ca });
 * // again.caPem === first.caPem: clients that trust first.caPem trust again.certPem
 * ```
 */
export interface CertificateAuthorityPem {
  /** The CA certificate, PEM. */
  readonly certPem: string;
  /** The CA's private key, PEM (PKCS#8, or SEC1 / PKCS#1), unencrypted. Test-only secret. */
  readonly keyPem: string;
}

/**
 * PEM texts of a certificate authority (generated, or the one given) and a server certificate it
 * signed.
 * @example
 * ```ts
 * const { caPem, certPem, keyPem }: CertificateAuthority = await createCertificateAuthority();
 * ```
 */
export interface CertificateAuthority {
  /** The CA certificate: what clients trust (`ssl: { ca }`). */
  readonly caPem: string;
  /**
   * The CA's private key, PKCS#8 PEM. A test-only secret: pass it back with `caPem` as the
   * `certificateAuthority` option to issue from the same CA again; never trust such a CA outside
   * tests and local development.
   */
  readonly caKeyPem: string;
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
  /**
   * Issue the server certificate from this CA instead of generating a new one (validated: a CA
   * certificate, currently valid, allowed to sign certificates, and the key matching it; EC, RSA or
   * Ed25519). Throws a `TypeError` naming what is wrong, never quoting the PEM text.
   */
  readonly certificateAuthority?: CertificateAuthorityPem;
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

/** One DER element: its tag, its contents and its whole encoding. */
interface DerElement {
  readonly tag: number;
  readonly body: Buffer;
  readonly raw: Buffer;
}

function readDer(buf: Buffer, offset = 0): DerElement {
  const tag = buf[offset];
  let length = buf[offset + 1];
  if (tag === undefined || length === undefined) throw new Error('truncated DER');
  let p = offset + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n < 1 || n > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[p++] ?? 0);
  }
  const end = p + length;
  if (end > buf.length) throw new Error('truncated DER');
  return { tag, body: buf.subarray(p, end), raw: buf.subarray(offset, end) };
}

function derChildren(body: Buffer): DerElement[] {
  const out: DerElement[] = [];
  for (let p = 0; p < body.length; ) {
    const e = readDer(body, p);
    out.push(e);
    p += e.raw.length;
  }
  return out;
}

/** What issuing needs from a CA certificate: its subject, key identifier and key usage. */
interface CaCertificateFields {
  /** The subject Name, DER: the leaf's issuer, byte for byte. */
  readonly subject: Buffer;
  /** subjectKeyIdentifier, if the CA has one: the leaf's authorityKeyIdentifier. */
  readonly keyId: Buffer | undefined;
  /** keyUsage allows keyCertSign (true when the CA has no keyUsage extension). */
  readonly canSign: boolean;
}

function caCertificateFields(der: Buffer): CaCertificateFields {
  const [tbs] = derChildren(readDer(der).body);
  if (!tbs) throw new Error('no tbsCertificate');
  const items = derChildren(tbs.body);
  const first = items[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  const subject = items[first + 4];
  if (subject?.tag !== 0x30) throw new Error('no subject');
  let keyId: Buffer | undefined;
  let canSign = true;
  const extensions = items.find((e) => e.tag === 0xa3);
  const list = extensions ? derChildren(extensions.body)[0] : undefined;
  for (const ext of list ? derChildren(list.body) : []) {
    const parts = derChildren(ext.body);
    const id = parts[0]?.raw;
    const value = parts[parts.length - 1];
    if (!id || !value || value.tag !== 0x04) continue;
    if (id.equals(oid('2.5.29.14'))) {
      keyId = Buffer.from(readDer(value.body).body);
    } else if (id.equals(oid('2.5.29.15'))) {
      const bits = readDer(value.body).body; // BIT STRING: unused-bits byte, then the bits
      canSign = ((bits[1] ?? 0) & 0x04) !== 0; // bit 5: keyCertSign
    }
  }
  return { subject: Buffer.from(subject.raw), keyId, canSign };
}

// ---- certificates ---------------------------------------------------------------------------

/** How a CA key signs: the AlgorithmIdentifier and the signature over the TBS certificate. */
interface CertificateSigner {
  readonly algorithm: Buffer;
  sign(tbs: Buffer): Buffer;
}

const NULL = Buffer.from([0x05, 0x00]);

function signerFor(key: KeyObject, label: string): CertificateSigner {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const [hash, id] =
        curve === 'secp384r1'
          ? ['sha384', '1.2.840.10045.4.3.3']
          : curve === 'secp521r1'
            ? ['sha512', '1.2.840.10045.4.3.4']
            : ['sha256', '1.2.840.10045.4.3.2'];
      return { algorithm: seq(oid(id)), sign: (tbs) => signData(hash, tbs, key) };
    }
    case 'rsa':
      return {
        algorithm: seq(oid('1.2.840.113549.1.1.11'), NULL), // sha256WithRSAEncryption
        sign: (tbs) => signData('sha256', tbs, key),
      };
    case 'ed25519':
      return { algorithm: seq(oid('1.3.101.112')), sign: (tbs) => signData(null, tbs, key) };
    default:
      throw new TypeError(
        `${label}.keyPem is a ${key.asymmetricKeyType ?? 'unknown'} key; use an EC, RSA or Ed25519 key`,
      );
  }
}

function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2, method 1). */
function keyIdentifier(spki: Buffer): Buffer {
  // SPKI: SEQUENCE { AlgorithmIdentifier, BIT STRING (unused-bits byte || key) }.
  const key = derChildren(readDer(spki).body)[1];
  return createHash('sha1')
    .update(key ? key.body.subarray(1) : spki)
    .digest();
}

interface CertSpec {
  /** Subject Name, DER. */
  readonly subject: Buffer;
  /** Issuer Name, DER (the CA's subject, byte for byte). */
  readonly issuer: Buffer;
  readonly subjectKey: KeyObject;
  readonly signer: CertificateSigner;
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
    spec.signer.algorithm,
    spec.issuer,
    seq(time(spec.notBefore), time(spec.notAfter)),
    spec.subject,
    spkiDer(spec.subjectKey),
    explicit(3, seq(...spec.extensions)),
  );
  return seq(tbs, spec.signer.algorithm, bitString(spec.signer.sign(tbs)));
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const CA_NAME = 'rds-iam emulator local CA';

/**
 * Creates a self-signed CA certificate (basicConstraints CA, pathLen 0; keyCertSign, cRLSign) for
 * a key pair, valid from one hour before `now` for `days` days. `createCertificateAuthority` uses it
 * with a fresh ECDSA P-256 pair; tests use it with RSA and Ed25519 pairs.
 *
 * @example
 * ```ts
 * const ca = selfSignedCertificateAuthority(generateKeyPairSync('rsa', { modulusLength: 2048 }));
 * await startEmulator({ engine: 'postgres', upstream, certificateAuthority: ca });
 * ```
 */
export function selfSignedCertificateAuthority(
  pair: { readonly publicKey: KeyObject; readonly privateKey: KeyObject },
  opts: { readonly now?: number; readonly days?: number } = {},
): CertificateAuthorityPem {
  const now = opts.now ?? Date.now();
  const subject = name(CA_NAME);
  const der = buildCertificate({
    subject,
    issuer: subject,
    subjectKey: pair.publicKey,
    signer: signerFor(pair.privateKey, 'certificateAuthority'),
    notBefore: new Date(now - HOUR_MS),
    notAfter: new Date(now + (opts.days ?? 365) * 24 * HOUR_MS),
    extensions: [
      extension('2.5.29.19', true, seq(bool(true), integer(0))), // basicConstraints CA, pathLen 0
      extension('2.5.29.15', true, bitString(Buffer.from([0x06]), 1)), // keyCertSign | cRLSign
      extension('2.5.29.14', false, octets(keyIdentifier(spkiDer(pair.publicKey)))),
    ],
  });
  return {
    certPem: toPem('CERTIFICATE', der),
    keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A CA ready to issue: checked, parsed, normalized to PEM (certificate) and PKCS#8 PEM (key). */
interface LoadedCertificateAuthority extends CaCertificateFields {
  readonly certPem: string;
  readonly keyPem: string;
  readonly signer: CertificateSigner;
  readonly notBefore: number;
  readonly notAfter: number;
}

/**
 * Checks a CA given as PEM texts and reads what issuing needs. Every problem is a `TypeError` that
 * names the field (`certificateAuthority.certPem` / `.keyPem`) and never quotes the PEM text.
 */
function loadCertificateAuthority(
  given: CertificateAuthorityPem,
  now: number,
  label = 'certificateAuthority',
): LoadedCertificateAuthority {
  if (
    typeof given !== 'object' ||
    given === null ||
    typeof given.certPem !== 'string' ||
    typeof given.keyPem !== 'string' ||
    given.certPem.trim() === '' ||
    given.keyPem.trim() === ''
  ) {
    throw new TypeError(`${label} needs certPem and keyPem, both PEM strings`);
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(given.certPem);
  } catch {
    throw new TypeError(`${label}.certPem is not a PEM certificate`);
  }
  if (!cert.ca) {
    throw new TypeError(`${label}.certPem is not a CA certificate (basicConstraints CA:TRUE)`);
  }
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (notAfter <= now) throw new TypeError(`${label}.certPem expired on ${cert.validTo}`);
  if (notBefore > now)
    throw new TypeError(`${label}.certPem is not valid before ${cert.validFrom}`);
  let fields: CaCertificateFields;
  try {
    fields = caCertificateFields(cert.raw);
  } catch {
    throw new TypeError(`${label}.certPem could not be read as an X.509 certificate`);
  }
  if (!fields.canSign) {
    throw new TypeError(`${label}.certPem may not sign certificates (keyUsage lacks keyCertSign)`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(given.keyPem);
  } catch {
    throw new TypeError(`${label}.keyPem is not an unencrypted PEM private key`);
  }
  const signer = signerFor(key, label);
  if (!cert.checkPrivateKey(key)) {
    throw new TypeError(`${label}.keyPem does not match ${label}.certPem`);
  }
  return {
    ...fields,
    certPem: toPem('CERTIFICATE', cert.raw),
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    signer,
    notBefore,
    notAfter,
  };
}

/**
 * Generates an ECDSA P-256 certificate authority (or takes the one given as `certificateAuthority`)
 * and a server certificate signed by it, for the emulator's TLS. The server certificate names
 * `localhost`, `127.0.0.1`, `::1` and any given hostnames (DNS names or IP addresses); it is valid
 * from one hour ago to one year from now, within the CA's own validity. A generated CA is valid for
 * the same year. The server key is always new. Nothing is written to disk. Takes a few milliseconds.
 *
 * @example
 * ```ts
 * import tls from 'node:tls';
 * import { createCertificateAuthority } from '@rds-iam/emulator';
 *
 * const { caPem, caKeyPem, certPem, keyPem } = await createCertificateAuthority({
 *   hostnames: ['mydb.abc123.us-east-1.rds.amazonaws.com'],
 * });
 * const secureContext = tls.createSecureContext({ cert: certPem, key: keyPem });
 * // clients trust caPem: new pg.Client({ ..., ssl: { ca: caPem } })
 * // later, a new server certificate from the same CA:
 * await createCertificateAuthority({ certificateAuthority: { certPem: caPem, keyPem: caKeyPem } });
 * ```
 */
export async function createCertificateAuthority(
  opts: CertificateAuthorityOptions = {},
): Promise<CertificateAuthority> {
  const now = Date.now();
  const given = opts.certificateAuthority;
  const ca = loadCertificateAuthority(
    given !== undefined
      ? given
      : selfSignedCertificateAuthority(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), {
          now,
        }),
    now,
  );
  const notBefore = new Date(Math.max(now - HOUR_MS, ca.notBefore));
  const notAfter = new Date(Math.min(now + 365 * 24 * HOUR_MS, ca.notAfter));

  const leaf = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const leafKeyId = keyIdentifier(spkiDer(leaf.publicKey));

  const names = [
    ...new Set([...DEFAULT_NAMES, ...(opts.hostnames ?? [])].map((n) => n.trim())),
  ].filter((n) => n !== '');
  const generalNames = names.map((n) =>
    isIP(n) === 0 ? tlv(0x82, Buffer.from(n, 'ascii')) : tlv(0x87, ipBytes(n)),
  );
  const commonName = [...names].reverse().find((n) => isIP(n) === 0) ?? 'localhost';

  const leafDer = buildCertificate({
    subject: name(commonName),
    issuer: ca.subject,
    subjectKey: leaf.publicKey,
    signer: ca.signer,
    notBefore,
    notAfter,
    extensions: [
      extension('2.5.29.19', true, seq()), // basicConstraints: not a CA
      extension('2.5.29.15', true, bitString(Buffer.from([0x80]), 7)), // digitalSignature
      extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // serverAuth
      extension('2.5.29.17', false, seq(...generalNames)),
      extension('2.5.29.14', false, octets(leafKeyId)),
      ...(ca.keyId ? [extension('2.5.29.35', false, seq(tlv(0x80, ca.keyId)))] : []),
    ],
  });

  return {
    caPem: ca.certPem,
    caKeyPem: ca.keyPem,
    certPem: toPem('CERTIFICATE', leafDer),
    keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
