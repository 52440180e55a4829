import { parseDatabaseUrl, RdsIamError } from '@rds-iam/core';

/** What a PostgreSQL URL contributes to a pool config. */
export interface ParsedConnectionString {
  host?: string;
  port?: number;
  user?: string;
  database?: string;
  ssl?: false;
  application_name?: string;
  options?: string;
  /** From libpq's `connect_timeout` (seconds; 0 waits for ever). */
  connectionTimeoutMillis?: number;
}

const PASSED_THROUGH = new Set(['application_name', 'options']);
const SSL_MODES = new Set(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']);

/**
 * Reads a `postgres://` URL into explicit options. node-postgres would parse it itself and let the
 * URL's (empty) password overwrite the IAM password function, so rds-iam parses it first and hands pg
 * plain fields. A password in the URL is refused.
 *
 * @throws {RdsIamError} `ERR_CONFLICTING_OPTIONS` for a password, `ERR_INVALID_OPTION` for anything
 * that is not a PostgreSQL URL or a parameter rds-iam cannot honour.
 */
export function parseConnectionString(text: string): ParsedConnectionString {
  const { params, ...fields } = parseDatabaseUrl(text, {
    option: 'connectionString',
    protocols: ['postgres', 'postgresql'],
  });
  const parsed: ParsedConnectionString = fields;
  for (const [key, value] of params) {
    if (key === 'sslmode') {
      if (!SSL_MODES.has(value)) {
        throw new RdsIamError(
          'ERR_INVALID_OPTION',
          `rds-iam: unknown sslmode '${value}' in \`connectionString\`.`,
        );
      }
      // Every mode but `disable` means TLS, and rds-iam always verifies it fully.
      if (value === 'disable') parsed.ssl = false;
    } else if (key === 'connect_timeout') {
      if (!/^\d{1,7}$/.test(value)) {
        throw new RdsIamError(
          'ERR_INVALID_OPTION',
          `rds-iam: \`connectionString\` has connect_timeout=${value}. Set it in whole seconds, e.g. connect_timeout=10 (0 waits for ever).`,
        );
      }
      parsed.connectionTimeoutMillis = Number(value) * 1000;
    } else if (PASSED_THROUGH.has(key)) {
      parsed[key as 'application_name' | 'options'] = value;
    } else {
      throw new RdsIamError(
        'ERR_INVALID_OPTION',
        `rds-iam: \`connectionString\` parameter '${key}' is not supported with IAM; pass it as a pool option instead.`,
      );
    }
  }
  return parsed;
}
