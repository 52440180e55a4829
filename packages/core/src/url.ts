import { RdsIamError } from './errors.js';

/** The parts of a database URL that rds-iam reads. */
export interface ParsedDatabaseUrl {
  host?: string;
  port?: number;
  user?: string;
  database?: string;
  /** The query string, for the caller to honour or refuse parameter by parameter. */
  params: URLSearchParams;
}

/**
 * Parses a `postgres://` or `mysql://` URL given to an integration (`connectionString`, `uri`) into
 * explicit fields, so a driver never parses it itself and lets the URL's empty password overwrite the
 * IAM password hook. A password in the URL is refused: with IAM the token is the password.
 *
 * @throws {RdsIamError} `ERR_CONFLICTING_OPTIONS` for a password; `ERR_INVALID_OPTION` for text that
 * is not a URL of one of `protocols`.
 *
 * @example
 * ```ts
 * parseDatabaseUrl('postgres://app@db.example.com:5432/orders', { option: 'connectionString', protocols: ['postgres', 'postgresql'] });
 * // { host: 'db.example.com', port: 5432, user: 'app', database: 'orders', params: URLSearchParams {} }
 * ```
 */
export function parseDatabaseUrl(
  text: string,
  { option, protocols }: { option: string; protocols: readonly string[] },
): ParsedDatabaseUrl {
  const example = `${protocols[0]}://USER@HOST:PORT/DATABASE`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`${option}\` is not a URL. Use ${example}, or pass host, port, user and database as options.`,
    );
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (!protocols.includes(scheme)) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`${option}\` must start with ${protocols[0]}:// (got ${scheme}://). Use ${example}.`,
    );
  }
  if (url.password) {
    throw new RdsIamError(
      'ERR_CONFLICTING_OPTIONS',
      `rds-iam: \`${option}\` carries a password, but with IAM the password is a fresh token for every connection. Remove the password from the URL.`,
    );
  }
  const parsed: ParsedDatabaseUrl = { params: url.searchParams };
  if (url.hostname) parsed.host = decodeURIComponent(url.hostname.replace(/^\[|\]$/g, ''));
  if (url.port) parsed.port = Number(url.port);
  if (url.username) parsed.user = decodeURIComponent(url.username);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database) parsed.database = database;
  return parsed;
}

/**
 * Merges a database URL's fields under explicit options: explicit values that are set win, the URL
 * fills the rest. For integrations whose URL option takes no parameters at all (mysql2's `uri`,
 * the mariadb connector's), any query parameter is refused rather than silently dropped.
 *
 * @throws {RdsIamError} as {@link parseDatabaseUrl}, and `ERR_INVALID_OPTION` for a query parameter.
 *
 * @example
 * ```ts
 * mergeDatabaseUrl({ database: 'shop' }, 'mysql://app@db.example.com:3306/ignored', { option: 'uri', protocols: ['mysql'] });
 * // { host: 'db.example.com', port: 3306, user: 'app', database: 'shop' }
 * ```
 */
export function mergeDatabaseUrl<T extends object>(
  explicit: T,
  url: string | undefined,
  spec: { option: string; protocols: readonly string[] },
): T {
  let fromUrl = {};
  if (url !== undefined) {
    const { params, ...fields } = parseDatabaseUrl(url, spec);
    for (const key of params.keys()) {
      throw new RdsIamError(
        'ERR_INVALID_OPTION',
        `rds-iam: \`${spec.option}\` parameter '${key}' is not supported with IAM; pass it as an option instead.`,
      );
    }
    fromUrl = fields;
  }
  const set = Object.entries(explicit).filter(([, value]) => value !== undefined);
  return { ...fromUrl, ...Object.fromEntries(set) } as T;
}
