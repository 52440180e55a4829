import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LocalProxyOptions } from '@rds-iam/proxy';
import { msOption, type Parsed, TARGET_OPTIONS, timeoutArgs } from '../args.js';
import { messageOf, UsageError } from '../errors.js';
import { type ListenArgs, listenArgs, type TargetArgs, targetsOf } from '../targets.js';

/** The options of `rds-iam proxy`: the targets as `doctor` takes them, and how to serve them. */
export const PROXY_OPTIONS = {
  ...TARGET_OPTIONS,
  listen: { type: 'string' },
  'listen-socket': { type: 'string' },
  'allow-non-loopback': { type: 'boolean' },
  'local-password-env': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  health: { type: 'string' },
  check: { type: 'boolean' },
} as const;

type Values = Parsed<typeof PROXY_OPTIONS & { json: { type: 'boolean' } }>['values'];

/** A target with the proxy's options for it (before `onLog`). */
export interface ProxyTarget {
  readonly target: TargetArgs;
  readonly options: LocalProxyOptions;
}

/**
 * The proxies a command line asks for: one per target of {@link targetsOf}, with the options every
 * target shares (credentials, CA, timeouts, local password).
 */
export function proxyTargets(values: Values, env: NodeJS.ProcessEnv): ProxyTarget[] {
  const targets = targetsOf(values);
  const flagListen = listenArgs(values.listen, values['listen-socket']);
  if (values.target !== undefined && flagListen !== undefined) {
    throw new UsageError('with --target, give each its listen= or listen-socket= in the URL');
  }
  const shared = {
    ...timeoutArgs(values),
    ...(values['handshake-timeout'] !== undefined
      ? { handshakeTimeoutMs: msOption(values['handshake-timeout'], 'handshake-timeout', 0) }
      : {}),
    ...(values['allow-non-loopback'] ? { allowNonLoopback: true } : {}),
    ...localPassword(values['local-password-env'], env),
  };
  return targets.map((target) => ({
    target,
    options: {
      ...shared,
      engine: target.engine,
      host: target.host,
      port: target.port,
      user: target.user,
      ...(target.database !== undefined ? { database: target.database } : {}),
      ...(target.region ? { region: target.region } : {}),
      ...(target.profile ? { profile: target.profile } : {}),
      ...(target.signingOverridden
        ? { signingHost: target.signingHost, signingPort: target.signingPort }
        : {}),
      ...(target.ca !== undefined ? { ssl: { ca: target.ca } } : {}),
      listen: listenOf(target.listen ?? flagListen, target.engine),
    },
  }));
}

function localPassword(
  variable: string | undefined,
  env: NodeJS.ProcessEnv,
): { localPassword?: string } {
  if (variable === undefined) return {};
  const password = env[variable];
  if (!password) {
    throw new UsageError(`--local-password-env ${variable}: that variable is empty or unset`);
  }
  return { localPassword: password };
}

/** Where a target listens: as given, else the engine's standard port on loopback. */
function listenOf(
  listen: ListenArgs | undefined,
  engine: 'postgres' | 'mysql',
): LocalProxyOptions['listen'] {
  const standard = engine === 'postgres' ? 5432 : 3306;
  if (listen === undefined) return { host: '127.0.0.1', port: standard };
  if ('socketDir' in listen) return { path: socketPath(listen.socketDir, engine, standard) };
  return listen;
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
