import { isAbsolute } from 'node:path';
import { type IamConnectionOptions, isLoopbackHost, RdsIamError } from '@rds-iam/core';
import type { ProxyLogEntry } from './log.js';

/**
 * The database engines the proxy speaks: PostgreSQL (also Aurora PostgreSQL, RDS Proxy for
 * PostgreSQL) and MySQL (also MariaDB, Aurora MySQL).
 * @example
 * ```ts
 * const engine: ProxyEngine = 'mysql';
 * ```
 */
export type ProxyEngine = 'postgres' | 'mysql';

/**
 * Where the proxy listens: a TCP address (loopback by default) or a Unix socket path (mode 0600).
 * @example
 * ```ts
 * const tcp: ProxyListen = { host: '127.0.0.1', port: 6543 };
 * const unix: ProxyListen = { path: '/run/rds-iam/.s.PGSQL.5432' };
 * ```
 */
export type ProxyListen =
  | { readonly host?: string; readonly port?: number }
  | { readonly path: string };

/**
 * Options of {@link startLocalProxy}: the RDS endpoint and IAM user (with every option the
 * integrations take: region, credentials, profile, signingHost, ssl, credentialsTimeoutMs...), where
 * to listen, and how local clients log in.
 *
 * @example
 * ```ts
 * const options: LocalProxyOptions = {
 *   engine: 'mysql',
 *   host: 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com',
 *   user: 'app',
 *   database: 'shop',
 *   listen: { port: 3307 },
 * };
 * ```
 */
export interface LocalProxyOptions extends IamConnectionOptions {
  readonly engine: ProxyEngine;
  /**
   * The default database, for a client that names none (PostgreSQL: else the user's name; MySQL:
   * else none).
   */
  readonly database?: string;
  /** Where to listen. Default: `127.0.0.1` on an ephemeral port (read it from the handle). */
  readonly listen?: ProxyListen;
  /**
   * Listen on an address that is not loopback (a sidecar's pod or task network). Requires
   * `localPassword`: anyone who can reach the port would otherwise log in as the IAM user.
   */
  readonly allowNonLoopback?: boolean;
  /**
   * A password local clients must present (PostgreSQL: md5; MySQL: mysql_native_password; it never
   * travels in clear). Default: none on loopback and Unix sockets, where the proxy trusts the machine
   * (as the Cloud SQL Auth Proxy does); any user name and password are then accepted.
   */
  readonly localPassword?: string;
  /** A local client must finish its own login within this many ms, or it is dropped. Default 10 000. */
  readonly handshakeTimeoutMs?: number;
  /**
   * The upstream login (credentials, token, TCP, TLS, authentication) must finish within this many
   * ms, or the client gets an error that says which step was waiting. Default 30 000.
   */
  readonly connectTimeoutMs?: number;
  /**
   * Let the process exit while the proxy still listens (its open sessions still hold it): for a
   * proxy started inside a tool's own process, such as a `prisma.config.ts`, which must not keep
   * the Prisma CLI alive once its command is done. Default false.
   */
  readonly unref?: boolean;
  /** One entry per event worth a log line: listening, login, refusal, session end. Never a token. */
  readonly onLog?: (entry: ProxyLogEntry) => void;
}

/** The options after validation, with defaults. */
export interface ResolvedProxyOptions {
  readonly engine: ProxyEngine;
  readonly listen: { readonly host: string; readonly port: number } | { readonly path: string };
  readonly localPassword: string | undefined;
  readonly handshakeTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly database: string | undefined;
}

function invalid(message: string): RdsIamError {
  return new RdsIamError('ERR_INVALID_OPTION', `rds-iam: ${message}`);
}

function positiveMs(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0 || value > 2 ** 31 - 1) {
    throw invalid(`set \`${name}\` to a number of milliseconds above 0 (got ${String(value)}).`);
  }
  return value;
}

/**
 * Validates what the proxy itself adds to the IAM options, before anything listens: a listen
 * address that is not loopback needs `allowNonLoopback` and a `localPassword`.
 *
 * @throws {RdsIamError} `ERR_INVALID_OPTION` with what to change.
 */
export function resolveProxyOptions(options: LocalProxyOptions): ResolvedProxyOptions {
  if (options.engine !== 'postgres' && options.engine !== 'mysql') {
    throw invalid(
      `use \`engine: 'postgres'\` or \`'mysql'\` (got ${JSON.stringify(options.engine)}).`,
    );
  }
  const localPassword = options.localPassword;
  if (localPassword !== undefined && (typeof localPassword !== 'string' || localPassword === '')) {
    throw invalid('set `localPassword` to a non-empty string, or remove it.');
  }
  const listen = options.listen ?? {};
  let resolved: ResolvedProxyOptions['listen'];
  if ('path' in listen) {
    if (typeof listen.path !== 'string' || !isAbsolute(listen.path)) {
      throw invalid(
        `set \`listen.path\` to an absolute path (got ${JSON.stringify(listen.path)}).`,
      );
    }
    resolved = { path: listen.path };
  } else {
    const host = listen.host ?? '127.0.0.1';
    const port = listen.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw invalid(`set \`listen.port\` to 0-65535 (got ${String(port)}).`);
    }
    if (!isLoopbackHost(host)) {
      if (options.allowNonLoopback !== true) {
        throw invalid(
          `a proxy listening on ${host} would let anyone who reaches it log in as the IAM user. Listen on loopback or a Unix socket, or pass \`allowNonLoopback: true\` (--allow-non-loopback) with a \`localPassword\` (--local-password-env) that clients must present.`,
        );
      }
      if (localPassword === undefined) {
        throw invalid(
          `a proxy listening on ${host} (not loopback) needs a password: pass a \`localPassword\` (--local-password-env) that clients must present.`,
        );
      }
    }
    resolved = { host, port };
  }
  return {
    engine: options.engine,
    listen: resolved,
    localPassword,
    handshakeTimeoutMs: positiveMs(options.handshakeTimeoutMs, 'handshakeTimeoutMs', 10_000),
    connectTimeoutMs: positiveMs(options.connectTimeoutMs, 'connectTimeoutMs', 30_000),
    database: options.database,
  };
}
