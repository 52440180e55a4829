import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LocalProxyOptions } from '@rds-iam/proxy';
import {
  CONNECTION_OPTIONS,
  connectionArgs,
  engineOption,
  hostOption,
  msOption,
  type Parsed,
  portOption,
  regionOption,
} from '../args.js';
import { messageOf, UsageError } from '../errors.js';

/** The options of `rds-iam proxy`. */
export const PROXY_OPTIONS = {
  ...CONNECTION_OPTIONS,
  database: { type: 'string' },
  listen: { type: 'string' },
  'listen-socket': { type: 'string' },
  target: { type: 'string', multiple: true },
  'allow-non-loopback': { type: 'boolean' },
  'local-password-env': { type: 'string' },
  'ca-file': { type: 'string' },
  'credentials-timeout': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  health: { type: 'string' },
} as const;

type Values = Parsed<typeof PROXY_OPTIONS & { json: { type: 'boolean' } }>['values'];

/** `host:port`, `[v6]:port` or `:port` (loopback). */
export function listenAddress(value: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value.trim());
  // Port 0: a free port, printed when the proxy is ready.
  const port = m?.[3] === '0' ? 0 : m ? portOption(m[3], flag) : undefined;
  if (!m || port === undefined) {
    throw new UsageError(`--${flag} ${value}: expected host:port, such as 127.0.0.1:6543`);
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/**
 * The socket path in a `--listen-socket` directory: where psql looks (`DIR/.s.PGSQL.PORT`, so that
 * `psql -h DIR -p PORT` finds it), and `DIR/mysql-PORT.sock` for MySQL (`mysql --socket`). The
 * directory is created private (0700) when missing.
 */
export function socketPath(dir: string, engine: 'postgres' | 'mysql', port: number): string {
  const full = resolve(dir);
  try {
    mkdirSync(full, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UsageError(`--listen-socket ${dir}: ${messageOf(err)}`);
  }
  return engine === 'postgres' ? join(full, `.s.PGSQL.${port}`) : join(full, `mysql-${port}.sock`);
}

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the CA file ${path}: ${messageOf(err)}`);
  }
}

/** What every target shares: credentials, CA, timeouts, local password. */
export function sharedTargetOptions(
  values: Values,
  env: NodeJS.ProcessEnv,
): Partial<LocalProxyOptions> {
  const out: {
    -readonly [K in keyof LocalProxyOptions]?: LocalProxyOptions[K];
  } = {};
  if (values.profile !== undefined) out.profile = values.profile.trim();
  if (values['ca-file'] !== undefined) out.ssl = { ca: readCa(values['ca-file']) };
  if (values['credentials-timeout'] !== undefined) {
    out.credentialsTimeoutMs = msOption(
      values['credentials-timeout'],
      'credentials-timeout',
      5_000,
    );
  }
  if (values['connect-timeout'] !== undefined) {
    out.connectTimeoutMs = msOption(values['connect-timeout'], 'connect-timeout', 30_000);
  }
  if (values['handshake-timeout'] !== undefined) {
    out.handshakeTimeoutMs = msOption(values['handshake-timeout'], 'handshake-timeout', 10_000);
  }
  if (values['allow-non-loopback']) out.allowNonLoopback = true;
  const passwordEnv = values['local-password-env'];
  if (passwordEnv !== undefined) {
    const password = env[passwordEnv];
    if (!password) {
      throw new UsageError(`--local-password-env ${passwordEnv}: that variable is empty or unset`);
    }
    out.localPassword = password;
  }
  return out;
}

/** The one target given by --engine/--host/--user/... and --listen or --listen-socket. */
export function flagTarget(values: Values): LocalProxyOptions {
  const args = connectionArgs(values);
  const engine = args.engine ?? 'postgres';
  return {
    engine,
    host: args.host,
    port: args.port,
    user: args.user,
    ...(args.region ? { region: args.region } : {}),
    ...(args.signingOverridden
      ? { signingHost: args.signingHost, signingPort: args.signingPort }
      : {}),
    ...(values.database !== undefined ? { database: values.database } : {}),
    listen: listenOf(values.listen, values['listen-socket'], engine, 'listen'),
  };
}

function listenOf(
  listen: string | undefined,
  socketDir: string | undefined,
  engine: 'postgres' | 'mysql',
  flag: string,
): LocalProxyOptions['listen'] {
  if (listen !== undefined && socketDir !== undefined) {
    throw new UsageError('give --listen or --listen-socket, not both');
  }
  const standard = engine === 'postgres' ? 5432 : 3306;
  if (socketDir !== undefined) return { path: socketPath(socketDir, engine, standard) };
  return listen === undefined ? { host: '127.0.0.1', port: standard } : listenAddress(listen, flag);
}

/**
 * One `--target`: `ENGINE://USER@HOST[:PORT][/DATABASE]?listen=HOST:PORT` (or `listen-socket=DIR`),
 * with `region`, `signing-host`, `signing-port` and `ca-file` as further query parameters.
 *
 * @example
 * ```ts
 * urlTarget('mysql://app@mydb.abc.eu-west-1.rds.amazonaws.com/shop?listen=127.0.0.1:3307');
 * ```
 */
export function urlTarget(value: string): LocalProxyOptions {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `--target ${value.slice(0, 60)}: not a URL like postgres://user@host/db?listen=127.0.0.1:6543`,
    );
  }
  const engine = engineOption(url.protocol.slice(0, -1));
  if (!engine) throw new UsageError(`--target ${url.protocol}: the scheme names the engine`);
  if (url.password) {
    throw new UsageError('--target must not carry a password: the proxy logs in with IAM tokens');
  }
  const host = hostOption(url.hostname.replace(/^\[(.*)\]$/, '$1'), 'target host');
  const user = decodeURIComponent(url.username);
  if (!host || !user) throw new UsageError(`--target ${url.host}: needs a user and a host`);
  const q = url.searchParams;
  const port =
    portOption(url.port || undefined, 'target port') ?? (engine === 'postgres' ? 5432 : 3306);
  const database = decodeURIComponent(url.pathname.slice(1));
  const region = regionOption(q.get('region') ?? undefined);
  const signingHost = hostOption(q.get('signing-host') ?? undefined, 'target signing-host');
  const signingPort = portOption(q.get('signing-port') ?? undefined, 'target signing-port');
  const caFile = q.get('ca-file');
  return {
    engine,
    host,
    port,
    user,
    ...(database ? { database } : {}),
    ...(region ? { region } : {}),
    ...(signingHost ? { signingHost } : {}),
    ...(signingPort ? { signingPort } : {}),
    ...(caFile ? { ssl: { ca: readCa(caFile) } } : {}),
    listen: listenOf(
      q.get('listen') ?? undefined,
      q.get('listen-socket') ?? undefined,
      engine,
      'target listen',
    ),
  };
}
