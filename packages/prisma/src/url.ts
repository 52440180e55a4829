import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  createIamConnector,
  type Engine,
  type IamConnectionOptions,
  RdsIamError,
  rdsCaCertificates,
  withoutPassword,
} from '@rds-iam/core';
import { anchorOf, probeCertificateChain } from './tls-probe.js';

/** TLS for {@link iamDatabaseUrl}. */
export interface IamDatabaseUrlTls {
  /**
   * The CA certificate(s), PEM. Default: the RDS CAs. A TLS handshake with the server (no credentials
   * are sent) verifies it against them and picks the one that anchors its chain.
   */
  ca?: string | readonly string[];
  /** Use this CA file as is (one PEM certificate; Prisma's engines read only the first). */
  caFile?: string;
}

/** Options of {@link iamDatabaseUrl}: the core's, plus the database and TLS. */
export interface IamDatabaseUrlOptions extends Omit<IamConnectionOptions, 'ssl' | 'engine'> {
  /** `'postgres'` (PostgreSQL, Aurora PostgreSQL) or `'mysql'` (MySQL, MariaDB, Aurora MySQL). */
  engine: Engine;
  /** The database (schema, for MySQL) the URL names. */
  database?: string;
  /**
   * Default: TLS verified against the RDS CAs (`true`). `{ ca }` or `{ caFile }` for another CA (the
   * emulator's). `false` is allowed only towards loopback, as everywhere in rds-iam.
   */
  ssl?: boolean | IamDatabaseUrlTls;
  /**
   * More URL parameters for Prisma's engines (`schema`, `connection_limit`, `connect_timeout`, ...).
   * TLS parameters and credentials are refused: rds-iam sets them.
   */
  params?: Readonly<Record<string, string | number | boolean>>;
}

const RESERVED_PARAMS = new Set([
  'sslmode',
  'sslaccept',
  'sslcert',
  'sslidentity',
  'sslpassword',
  'password',
  'user',
]);
const PEM = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

let caDirectory: string | undefined;

/** A private (0700) directory for this process's CA files, removed when the process exits. */
function writeCaFile(pem: string): string {
  if (!caDirectory) {
    const dir = mkdtempSync(join(tmpdir(), 'rds-iam-ca-'));
    caDirectory = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const file = join(
    caDirectory,
    `ca-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}.pem`,
  );
  writeFileSync(file, pem.endsWith('\n') ? pem : `${pem}\n`, { mode: 0o644 });
  return file;
}

function splitPems(ca: string | readonly string[]): string[] {
  const texts = typeof ca === 'string' ? [ca] : [...ca];
  return texts.flatMap((text) => text.match(PEM) ?? []);
}

/**
 * Mints a token now and returns a connection URL for the Prisma CLI (`prisma.config.ts`,
 * `datasource.url`), so `prisma migrate deploy` and friends log in with IAM. The token is the
 * URL-encoded password; it is valid for 15 minutes, so build the URL when the command starts (the
 * config file is evaluated once per CLI run) and never store it.
 *
 * TLS is on and verified, in the terms Prisma's engines understand:
 * - PostgreSQL: `sslmode=require&sslaccept=strict&sslcert=<file>`. The engines know no
 *   `sslmode=verify-full` (an unknown mode silently falls back to `prefer`), and their default
 *   `sslaccept=accept_invalid_certs` checks nothing: `strict` verifies the chain and the URL host's
 *   name.
 * - MySQL: `sslaccept=strict&sslcert=<file>` (any `ssl*` parameter turns TLS on).
 *
 * `sslcert` is the path of ONE CA certificate: the engines load only the first certificate of a file,
 * so a bundle would not do. rds-iam opens a TLS session to the server once (no credentials are sent),
 * verifies it against the RDS CAs, and writes the root that anchors its chain to a file in a private
 * temporary directory that is removed when the process exits.
 *
 * Limits of the Prisma CLI itself: it checks the certificate against the host in the URL (no
 * separate server name), so a tunnel must be dialled by a name the certificate carries; and its MySQL
 * engine does not implement `mysql_clear_password` (https://github.com/prisma/orm/issues/10304), which RDS requires for IAM
 * users, so for MySQL the URL is right but the CLI cannot log in with it: apply migrations with
 * `prisma migrate diff --script` and your own IAM connection instead (see the README).
 *
 * @throws {RdsIamError} for bad options; `ERR_TLS_VERIFY` / `ERR_TLS_REQUIRED` when the server's TLS
 * does not verify; the provider's errors (`ERR_CREDENTIALS`, `ERR_SIGNING`, ...) when no token can be
 * had. None of them contains the token.
 *
 * @example
 * ```ts
 * // prisma.config.ts
 * import { iamDatabaseUrl } from '@rds-iam/prisma';
 * import { defineConfig } from 'prisma/config';
 *
 * export default defineConfig({
 *   schema: 'prisma/schema.prisma',
 *   datasource: {
 *     url: await iamDatabaseUrl({
 *       engine: 'postgres',
 *       host: 'mydb.cluster-abc123xyz.eu-west-1.rds.amazonaws.com',
 *       user: 'migrator',
 *       database: 'app',
 *     }),
 *   },
 * });
 * ```
 */
export async function iamDatabaseUrl(options: IamDatabaseUrlOptions): Promise<string> {
  if (options === null || typeof options !== 'object') {
    throw new RdsIamError('ERR_INVALID_OPTION', 'rds-iam: options must be an object.');
  }
  const { engine, database, ssl, params = {}, ...iam } = withoutPassword(options);
  if (engine !== 'postgres' && engine !== 'mysql') {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`engine\` must be 'postgres' or 'mysql' for iamDatabaseUrl.`,
    );
  }
  for (const key of Object.keys(params)) {
    if (RESERVED_PARAMS.has(key.toLowerCase())) {
      throw new RdsIamError(
        'ERR_CONFLICTING_OPTIONS',
        `rds-iam: URL parameter '${key}' is set by iamDatabaseUrl (TLS is verified, the password is the token). Remove it from \`params\`.`,
      );
    }
  }
  if (ssl !== undefined && typeof ssl !== 'boolean' && (typeof ssl !== 'object' || ssl === null)) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: `ssl` must be true, false (loopback only), `{ ca }` or `{ caFile }`.',
    );
  }
  const tlsOptions = typeof ssl === 'object' ? ssl : undefined;
  const cas =
    tlsOptions?.ca !== undefined
      ? splitPems(tlsOptions.ca)
      : ssl === false
        ? []
        : rdsCaCertificates();
  if (tlsOptions?.ca !== undefined && cas.length === 0) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: `ssl.ca` holds no PEM certificate (-----BEGIN CERTIFICATE-----).',
    );
  }
  const connector = createIamConnector(
    {
      ...iam,
      ssl:
        ssl === false
          ? false
          : cas.length > 0 && tlsOptions?.ca !== undefined
            ? { ca: [...cas] }
            : undefined,
    },
    engine,
  );
  try {
    const query = new URLSearchParams();
    if (connector.tls.ssl === false) {
      if (engine === 'postgres') query.set('sslmode', 'disable');
    } else {
      let caFile: string;
      if (tlsOptions?.caFile !== undefined) {
        caFile = resolve(tlsOptions.caFile);
      } else {
        // Verify the server now (a clear error here beats a failed CLI run) and keep the one CA that
        // anchors its chain.
        const chain = await probeCertificateChain(
          engine,
          connector.host,
          connector.port,
          connector.tls.ssl,
        );
        const anchor = anchorOf(chain, cas);
        if (!anchor) {
          throw new RdsIamError(
            'ERR_TLS_VERIFY',
            `rds-iam: the certificate chain of '${connector.host}' verified, but no single CA certificate of the ones given anchors it, so the Prisma CLI could not verify it. Pass the root CA as \`ssl: { caFile }\`.`,
          );
        }
        caFile = writeCaFile(anchor);
      }
      if (engine === 'postgres') query.set('sslmode', 'require');
      query.set('sslaccept', 'strict');
      query.set('sslcert', caFile);
    }
    for (const [key, value] of Object.entries(params)) query.set(key, String(value));
    const token = await connector.password();
    const host = isIP(connector.host) === 6 ? `[${connector.host}]` : connector.host;
    // encodeURIComponent, not URL#password: the WHATWG setter leaves '%' alone, and the token's own
    // %2F / %3D escapes would then be decoded by the engines into a different token.
    const auth = `${encodeURIComponent(connector.user)}:${encodeURIComponent(token)}`;
    const path = database === undefined ? '' : `/${encodeURIComponent(database)}`;
    const search = query.size > 0 ? `?${query}` : '';
    return `${engine === 'postgres' ? 'postgresql' : 'mysql'}://${auth}@${host}:${connector.port}${path}${search}`;
  } finally {
    // One mint per CLI run: let go of this handle on the shared cache (a given provider is the caller's).
    if (!options.tokenProvider) connector.provider.close();
  }
}
