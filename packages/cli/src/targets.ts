import { readCaFile } from '@rds-iam/core';
import {
  type ConnectionArgs,
  connectionArgs,
  engineOption,
  hostOption,
  type Parsed,
  portOption,
  profileOption,
  regionOption,
  type TARGET_OPTIONS,
} from './args.js';
import { messageOf, UsageError } from './errors.js';

/** Where the proxy listens for a target: a TCP address, or a directory for its Unix socket. */
export type ListenArgs = { host: string; port: number } | { socketDir: string };

/**
 * A database as `doctor` checks it and `proxy` serves it, from the connection flags or a `--target`
 * URL: one parser for both, so that the same words mean the same endpoint to each.
 */
export interface TargetArgs extends ConnectionArgs {
  engine: 'postgres' | 'mysql';
  /** The database named by `--database` or the URL's path. */
  database: string | undefined;
  /** The CA to trust instead of the RDS bundle: the URL's `ca-file=`, else `--ca-file`. */
  caFile: string | undefined;
  /** The certificates of `caFile`, read once when the command line is read. */
  ca: string[] | undefined;
  /** The URL's `listen=` / `listen-socket=`: the proxy's side, which `doctor` validates and ignores. */
  listen: ListenArgs | undefined;
}

type Values = Parsed<typeof TARGET_OPTIONS>['values'];

/** A target as the command line writes it, before its CA file is read. */
export type TargetSpec = Omit<TargetArgs, 'ca'>;

/** The flags that describe the one target of the flag form; with `--target` they belong in the URL. */
const PER_TARGET_FLAGS = [
  'port',
  'engine',
  'database',
  'signing-host',
  'signing-port',
] as const satisfies readonly (keyof Values)[];

/**
 * The targets a command line names: each `--target` URL, or else the one target of `--engine`,
 * `--host`, `--user`, ... . `--region`, `--profile` and `--ca-file` apply to every target whose URL
 * does not say otherwise. Each target carries its CA file's certificates, read here.
 *
 * @throws {UsageError} for a malformed URL or flag, both forms at once, or a CA file that cannot be
 * read or holds no certificate.
 */
export function targetsOf(values: Values): TargetArgs[] {
  const targets = targetSpecs(values);
  // Each CA file once, however many targets trust it: a bad one is refused before any network call.
  const read = new Map<string, string[]>();
  return targets.map((target) => {
    const path = target.caFile;
    if (path === undefined) return { ...target, ca: undefined };
    const ca = read.get(path) ?? caCertificates(path);
    read.set(path, ca);
    return { ...target, ca };
  });
}

function targetSpecs(values: Values): TargetSpec[] {
  const urls = values.target ?? [];
  if (urls.length === 0) return [flagTarget(values)];
  if (values.host !== undefined || values.user !== undefined) {
    throw new UsageError('give --target, or --host and --user, not both');
  }
  const stray = PER_TARGET_FLAGS.find((flag) => values[flag] !== undefined);
  if (stray !== undefined) {
    throw new UsageError(
      `--${stray} describes the --host target: with --target, put it in the URL`,
    );
  }
  const profile = profileOption(values.profile);
  const region = regionOption(values.region);
  return urls.map((url) => {
    const target = urlTarget(url);
    return {
      ...target,
      region: target.region ?? region,
      profile,
      caFile: target.caFile ?? values['ca-file'],
    };
  });
}

/** The one target given by `--engine`, `--host`, `--port`, `--user`, `--database`, ... . */
export function flagTarget(values: Values): TargetSpec {
  const args = connectionArgs(values);
  if (args.engine === undefined) {
    throw new UsageError(`--engine is required with --port ${args.port} (postgres or mysql)`);
  }
  return {
    ...args,
    engine: args.engine,
    database: values.database,
    caFile: values['ca-file'],
    listen: undefined,
  };
}

/**
 * One `--target`: `ENGINE://USER@HOST[:PORT][/DATABASE]`, with `region`, `signing-host`,
 * `signing-port`, `ca-file` and the proxy's `listen=HOST:PORT` or `listen-socket=DIR` as query
 * parameters.
 *
 * @example
 * ```ts
 * urlTarget('mysql://app@mydb.abc.eu-west-1.rds.amazonaws.com/shop?listen=127.0.0.1:3307');
 * ```
 */
export function urlTarget(value: string): TargetSpec {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `--target ${value.slice(0, 60)}: not a URL like postgres://user@host[:port]/db`,
    );
  }
  const scheme = url.protocol.slice(0, -1);
  let engine: TargetArgs['engine'] | undefined;
  try {
    engine = engineOption(scheme);
  } catch {
    engine = undefined;
  }
  if (!engine) {
    throw new UsageError(
      `--target ${scheme.slice(0, 20)}://...: the scheme names the engine (postgres or mysql)`,
    );
  }
  if (url.password) {
    throw new UsageError('--target must not carry a password: rds-iam logs in with IAM tokens');
  }
  const host = hostOption(url.hostname.replace(/^\[(.*)\]$/, '$1'), 'target host');
  const user = decodeURIComponent(url.username);
  if (!host || !user) throw new UsageError(`--target ${url.host}: needs a user and a host`);
  const q = url.searchParams;
  const port =
    portOption(url.port || undefined, 'target port') ?? (engine === 'postgres' ? 5432 : 3306);
  const signingHost = hostOption(q.get('signing-host') ?? undefined, 'target signing-host');
  const signingPort = portOption(q.get('signing-port') ?? undefined, 'target signing-port');
  return {
    engine,
    host,
    port,
    user,
    database: decodeURIComponent(url.pathname.slice(1)) || undefined,
    region: regionOption(q.get('region') ?? undefined),
    profile: undefined,
    signingHost: signingHost ?? host,
    signingPort: signingPort ?? port,
    signingOverridden: signingHost !== undefined || signingPort !== undefined,
    caFile: q.get('ca-file') || undefined,
    listen: listenArgs(q.get('listen') ?? undefined, q.get('listen-socket') ?? undefined, {
      listen: 'target listen',
      socket: 'target listen-socket',
    }),
  };
}

/** `--listen HOST:PORT` or `--listen-socket DIR` (or the URL's `listen=` / `listen-socket=`). */
export function listenArgs(
  listen: string | undefined,
  socketDir: string | undefined,
  flags = { listen: 'listen', socket: 'listen-socket' },
): ListenArgs | undefined {
  if (listen !== undefined && socketDir !== undefined) {
    throw new UsageError(`give --${flags.listen} or --${flags.socket}, not both`);
  }
  if (socketDir !== undefined) {
    if (socketDir.trim() === '') throw new UsageError(`--${flags.socket} needs a directory`);
    return { socketDir };
  }
  return listen === undefined ? undefined : listenAddress(listen, flags.listen);
}

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
 * The certificates of a `--ca-file` (or a URL's `ca-file=`), read by core's reader, which the
 * integrations' `ssl: { caFile }` uses too. A file that cannot be read, or holds no PEM certificate
 * (a key, a DER file), is a usage error.
 */
export function caCertificates(path: string): string[] {
  try {
    return readCaFile(path);
  } catch (err) {
    // Core's error has the file system's as its cause when the file could not be read.
    const cause = err instanceof Error ? err.cause : undefined;
    throw new UsageError(
      cause === undefined ? messageOf(err) : `cannot read --ca-file ${path}: ${messageOf(cause)}`,
    );
  }
}
