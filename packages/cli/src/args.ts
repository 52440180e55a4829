import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { Engine } from '@rds-iam/core';
import { UsageError } from './errors.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean' },
  json: { type: 'boolean' },
} as const satisfies OptionsConfig;

/** Options that say which endpoint and user a token is for. */
export const CONNECTION_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  user: { type: 'string' },
  region: { type: 'string' },
  profile: { type: 'string' },
  'signing-host': { type: 'string' },
  'signing-port': { type: 'string' },
  engine: { type: 'string' },
} as const satisfies OptionsConfig;

/** The help text block describing {@link CONNECTION_OPTIONS}. */
export const CONNECTION_HELP = `  --host <host>           the endpoint you dial: RDS, Aurora or RDS Proxy name, or a tunnel/alias
  --port <port>           the port you dial (default 5432 / 3306 by --engine)
  --user <user>           the database user (IAM authentication enabled)
  --region <region>       signing region (default: from an RDS hostname, else AWS_REGION, the profile)
  --profile <name>        AWS shared-config profile for credentials and region
  --signing-host <host>   sign for this RDS endpoint instead of --host (tunnel, CNAME, IP)
  --signing-port <port>   the port the token names (default --port)
  --engine <engine>       postgres or mysql (for the default port)`;

/**
 * What `doctor` and `proxy` share, defined once so that both take a target the same way: the
 * connection options, `--target` URLs (see `targets.ts`), the database, the CA and the two bounds on
 * a login (`--credentials-timeout`, `--connect-timeout`).
 */
export const TARGET_OPTIONS = {
  ...CONNECTION_OPTIONS,
  database: { type: 'string' },
  target: { type: 'string', multiple: true },
  'ca-file': { type: 'string' },
  'credentials-timeout': { type: 'string' },
  'connect-timeout': { type: 'string' },
} as const satisfies OptionsConfig;

/**
 * The help text block describing {@link TARGET_OPTIONS} beyond the connection options, with the
 * command's own default for `--connect-timeout`.
 */
export function targetHelp(connectTimeoutMs: number): string {
  return `  --database <name>       the database: doctor logs in to it, the proxy's for clients naming none
  --target <url>          a target as a URL instead of --engine/--host/--user/... (repeatable):
                          ENGINE://USER@HOST[:PORT][/DB]?region=&signing-host=&signing-port=
                          &ca-file=&listen=HOST:PORT|listen-socket=DIR (listen: the proxy's side)
  --ca-file <path>        trust this CA instead of the RDS bundle (the emulator's, a tunnel's)
  --credentials-timeout <ms>  give up on the AWS credential source after this (default 5000)
  --connect-timeout <ms>  bound on the connection and login to the database (default ${connectTimeoutMs})`;
}

/** The bounds of {@link TARGET_OPTIONS} in ms, when given (each command has its defaults). */
export interface TimeoutArgs {
  /** How long the AWS credential source may take (core's `credentialsTimeoutMs`). */
  credentialsTimeoutMs?: number;
  /** How long the connection and login to the database may take. */
  connectTimeoutMs?: number;
}

/**
 * `--credentials-timeout` and `--connect-timeout`; `connect` names where to read the second from
 * (doctor also takes its older name, `--timeout`).
 */
export function timeoutArgs(
  values: { 'credentials-timeout'?: string | undefined; 'connect-timeout'?: string | undefined },
  connect: { value: string | undefined; name: string } = {
    value: values['connect-timeout'],
    name: 'connect-timeout',
  },
): TimeoutArgs {
  const credentials = values['credentials-timeout'];
  return {
    ...(credentials !== undefined
      ? { credentialsTimeoutMs: msOption(credentials, 'credentials-timeout', 0) }
      : {}),
    ...(connect.value !== undefined
      ? { connectTimeoutMs: msOption(connect.value, connect.name, 0) }
      : {}),
  };
}

/** What `parseArgs` gives back for a config. */
export type Parsed<T extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ options: T; allowPositionals: true; strict: true; args: string[] }>
>;

/**
 * `parseArgs` with its errors turned into one-line usage errors that name the command.
 */
export function parse<T extends OptionsConfig>(argv: readonly string[], options: T): Parsed<T> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const name = /'([^']+)'/.exec(message)?.[1] ?? 'option';
      const near = closest(
        name,
        Object.keys(options).map((o) => `--${o}`),
      );
      throw new UsageError(`unknown option '${name}'${near ? ` (did you mean ${near}?)` : ''}`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = /'(--?[^' ]+)/.exec(message)?.[1] ?? 'an option';
      throw new UsageError(
        message.includes('argument missing')
          ? `${name} needs a value`
          : `${name} does not take a value`,
      );
    }
    throw new UsageError(message.split('. ')[0] ?? message);
  }
}

/** Rejects positional arguments beyond `max`. */
export function noExtraPositionals(positionals: readonly string[], max = 0): void {
  const extra = positionals[max];
  if (extra !== undefined) {
    throw new UsageError(
      `unexpected argument '${extra.length > 40 ? `${extra.slice(0, 40)}…` : extra}'`,
    );
  }
}

/** A required string option. */
export function required(value: string | undefined, name: string, hint = ''): string {
  if (value === undefined || value.trim() === '') {
    throw new UsageError(`--${name} is required${hint ? ` (${hint})` : ''}`);
  }
  return value.trim();
}

/** A port: an integer from 1 to 65535. */
export function portOption(value: string | undefined, name = 'port'): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 65_535)) {
    throw new UsageError(
      `--${name} must be an integer from 1 to 65535 (got '${text.slice(0, 20)}')`,
    );
  }
  return port;
}

/** A positive number of milliseconds. */
export function msOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(ms > 0)) throw new UsageError(`--${name} must be a whole number of milliseconds > 0`);
  return ms;
}

/** `postgres` or `mysql` (with `postgresql`, `mariadb`, `aurora-*` accepted as aliases). */
export function engineOption(value: string | undefined): Engine | undefined {
  if (value === undefined) return undefined;
  const name = value.trim().toLowerCase();
  if (['postgres', 'postgresql', 'pg', 'aurora-postgresql'].includes(name)) return 'postgres';
  if (['mysql', 'mariadb', 'aurora-mysql'].includes(name)) return 'mysql';
  throw new UsageError(`--engine must be postgres or mysql (got '${value.slice(0, 30)}')`);
}

const REGION = /^[a-z]{2,}(-[a-z0-9]+)+-\d+$/;

/** A region name such as `us-east-1`. */
export function regionOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const region = value.trim();
  if (!REGION.test(region)) {
    throw new UsageError(
      `--region must be an AWS region such as us-east-1 (got '${region.slice(0, 30)}')`,
    );
  }
  return region;
}

const HOST = /^[A-Za-z0-9_.:[\]%-]+$/;

/** A bare hostname or IP address. */
export function hostOption(value: string | undefined, name = 'host'): string | undefined {
  if (value === undefined) return undefined;
  const host = value.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) {
    throw new UsageError(`--${name} must be a hostname, not a URL (remove the scheme)`);
  }
  // `name:5432` or `[::1]:5432` carry a port; `::1` is an IPv6 address.
  const withPort =
    /^\[.*\]:\d+$/.test(host) || (host.split(':').length === 2 && /:\d+$/.test(host));
  if (host === '' || !HOST.test(host) || withPort) {
    throw new UsageError(
      `--${name} must be a bare hostname or IP address${withPort ? ' (pass the port in --port)' : ''}`,
    );
  }
  return host.replace(/^\[(.*)\]$/, '$1');
}

/** The connection options after validation. */
export interface ConnectionArgs {
  host: string;
  port: number;
  user: string;
  engine: Engine | undefined;
  region: string | undefined;
  profile: string | undefined;
  signingHost: string;
  signingPort: number;
  /** True when `--signing-host` or `--signing-port` was given. */
  signingOverridden: boolean;
}

/**
 * Validates host, port, user, engine, region and signing options. The port defaults from the engine;
 * `defaultEngine` applies when neither is given (commands where the engine is known).
 */
export function connectionArgs(
  values: Partial<Record<keyof typeof CONNECTION_OPTIONS, string | undefined>>,
  defaultEngine?: Engine,
): ConnectionArgs {
  const host = hostOption(required(values.host, 'host', 'the database endpoint'))!;
  const user = required(values.user, 'user', 'the database user');
  const explicitEngine = engineOption(values.engine);
  let port = portOption(values.port);
  const engine = explicitEngine ?? defaultEngine ?? engineFromPort(port);
  if (port === undefined) {
    if (engine === undefined) {
      throw new UsageError('--port or --engine is required (5432 for PostgreSQL, 3306 for MySQL)');
    }
    port = engine === 'postgres' ? 5432 : 3306;
  }
  const signingHost = hostOption(values['signing-host'], 'signing-host') ?? host;
  const signingPort = portOption(values['signing-port'], 'signing-port') ?? port;
  return {
    host,
    port,
    user,
    engine,
    region: regionOption(values.region),
    profile: profileOption(values.profile),
    signingHost,
    signingPort,
    signingOverridden: values['signing-host'] !== undefined || values['signing-port'] !== undefined,
  };
}

/** A shared-config profile name. */
export function profileOption(value: string | undefined): string | undefined {
  const profile = value?.trim();
  if (profile === '') throw new UsageError('--profile must not be empty');
  return profile;
}

/** The engine a well-known port implies. */
export function engineFromPort(port: number | undefined): Engine | undefined {
  if (port === 5432) return 'postgres';
  if (port === 3306) return 'mysql';
  return undefined;
}

/**
 * The candidate a mistyped word most likely meant: the nearest by edit distance (a swap of two
 * neighbouring letters counts as one edit) within a third of its length, at least one; else the only
 * candidate it is the start of. `undefined` when nothing is that close, or two are equally close.
 *
 * @example
 * ```ts
 * closest('--hots', ['--host', '--port']); // '--host'
 * ```
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(word.replace(/^-+/, '').length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  let tie = false;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) {
      [best, bestDistance, tie] = [candidate, d, false];
    } else if (d === bestDistance) {
      tie = true;
    }
  }
  if (best !== undefined && !tie) return best;
  const prefixed = word.length >= 3 ? candidates.filter((c) => c.startsWith(word)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, at(i - 2, j - 2) + 1);
      }
      (rows[i] as number[])[j] = d;
    }
  }
  return at(a.length, b.length);
}
