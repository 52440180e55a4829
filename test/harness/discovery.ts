import { execFile } from 'node:child_process';
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import mysql from 'mysql2/promise';
import pg from 'pg';

/** The two database protocols the emulator speaks. */
export type Engine = 'postgres' | 'mysql';

export const ENGINES: readonly Engine[] = ['postgres', 'mysql'];

/** Where a database came from, in discovery order. */
export type DatabaseSource = 'env' | 'local' | 'testcontainers' | 'pglite';

/**
 * A database the end-to-end tests log in to (through the emulator), with the admin login the harness
 * uses to create and drop users and databases. Plain data: globalSetup hands it to test workers.
 */
export interface DatabaseTarget {
  readonly engine: Engine;
  readonly source: DatabaseSource;
  readonly host: string;
  readonly port: number;
  /** A superuser (PostgreSQL) / a user with CREATE USER and GRANT OPTION (MySQL). */
  readonly adminUser: string;
  readonly adminPassword: string;
  /** The database the admin connects to, and the default database of users without their own. */
  readonly database: string;
  /** Server version string, for messages. */
  readonly version: string;
  /**
   * False for PGlite: it runs every session as `postgres` in database `postgres`, whatever the login
   * user and database, so tests that check `current_user` or isolation per database skip that check.
   */
  readonly enforcesLoginUser: boolean;
  /** How it was found, for the summary: "the local server on 127.0.0.1:5432". */
  readonly description: string;
}

/** A suite that will not run, and why: printed at the end of the run. */
export interface SkippedSuite {
  readonly engine: Engine;
  readonly reason: string;
}

/** What {@link discoverDatabases} found. `stop()` stops what it started (PGlite, containers). */
export interface Discovery {
  readonly postgres: DatabaseTarget | undefined;
  readonly mysql: DatabaseTarget | undefined;
  readonly skipped: readonly SkippedSuite[];
  stop(): Promise<void>;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface DiscoveryOptions {
  /** Environment to read (`RDS_IAM_TEST_*`, `CI`). Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The local servers to try. Default 127.0.0.1:5432 and 127.0.0.1:3306. */
  readonly local?: { readonly postgres?: HostPort; readonly mysql?: HostPort };
  /**
   * Try Testcontainers: `true`/`false`, or a check. Default: unless `RDS_IAM_TEST_DOCKER=0`, when
   * `docker info` succeeds within 3 s.
   */
  readonly docker?: boolean | (() => Promise<boolean>);
  /** Fall back to embedded PGlite for PostgreSQL. Default true (unless `RDS_IAM_TEST_PGLITE=0`). */
  readonly pglite?: boolean;
  /** Per-probe connect timeout, ms. Default 2 000. */
  readonly timeoutMs?: number;
}

/** A harness misconfiguration or a database that CI requires and that is missing. */
export class HarnessError extends Error {
  override readonly name = 'HarnessError';
}

export const DEFAULT_LOCAL: Readonly<Record<Engine, HostPort>> = {
  postgres: { host: '127.0.0.1', port: 5432 },
  mysql: { host: '127.0.0.1', port: 3306 },
};

const ENV_URL: Readonly<Record<Engine, string>> = {
  postgres: 'RDS_IAM_TEST_POSTGRES_URL',
  mysql: 'RDS_IAM_TEST_MYSQL_URL',
};

const LABEL: Readonly<Record<Engine, string>> = { postgres: 'PostgreSQL', mysql: 'MySQL' };

/** What to do when an engine is missing: the line printed in the summary. */
function hint(engine: Engine, local: HostPort): string {
  return engine === 'postgres'
    ? `set ${ENV_URL.postgres} or start PostgreSQL on ${local.host}:${local.port} (user postgres, trust auth)`
    : `set ${ENV_URL.mysql} or start MariaDB/MySQL on ${local.host}:${local.port} (user root, empty password)`;
}

export function isCi(env: Readonly<Record<string, string | undefined>>): boolean {
  const ci = env.CI?.toLowerCase();
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/**
 * Finds a PostgreSQL and a MySQL/MariaDB server for the end-to-end tests, in this order:
 * `RDS_IAM_TEST_POSTGRES_URL` / `RDS_IAM_TEST_MYSQL_URL` (admin URLs); the local servers on
 * 127.0.0.1:5432 (user postgres) and 127.0.0.1:3306 (user root, empty password); Testcontainers when a
 * Docker engine answers; embedded PGlite for PostgreSQL.
 *
 * @throws {HarnessError} when a `RDS_IAM_TEST_*_URL` is set but does not answer (always), and under
 * `CI=true` when either engine is missing.
 */
export async function discoverDatabases(options: DiscoveryOptions = {}): Promise<Discovery> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const stops: Array<() => Promise<void>> = [];
  const skipped: SkippedSuite[] = [];
  const found: Partial<Record<Engine, DatabaseTarget>> = {};
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };

  try {
    const tried: Record<Engine, string[]> = { postgres: [], mysql: [] };
    for (const engine of ENGINES) {
      const url = env[ENV_URL[engine]];
      if (url) {
        // An explicit URL that does not answer is a mistake to report, not a reason to look elsewhere.
        found[engine] = await probeUrl(engine, url, timeoutMs);
        continue;
      }
      const local = options.local?.[engine] ?? DEFAULT_LOCAL[engine];
      if (env.RDS_IAM_TEST_CONTAINERS === '1') {
        tried[engine].push(`skipped ${local.host}:${local.port} (RDS_IAM_TEST_CONTAINERS=1)`);
        continue;
      }
      if (engine === 'postgres' && env.RDS_IAM_TEST_PGLITE === '1') {
        tried[engine].push(`skipped ${local.host}:${local.port} (RDS_IAM_TEST_PGLITE=1)`);
        continue;
      }
      const probe = await probeLocal(engine, local, timeoutMs);
      if (probe.ok) found[engine] = probe.target;
      else tried[engine].push(probe.reason);
    }

    const missing = ENGINES.filter((e) => !found[e]);
    if (missing.length > 0 && (await dockerAnswers(options.docker, env))) {
      for (const engine of missing) {
        try {
          const started = await startContainer(engine, containerImage(engine, env), timeoutMs);
          found[engine] = started.target;
          stops.push(started.stop);
        } catch (err) {
          tried[engine].push(`Testcontainers: ${message(err)}`);
        }
      }
    } else if (missing.length > 0) {
      for (const engine of missing) tried[engine].push('no Docker engine for Testcontainers');
    }

    const pgliteAllowed = options.pglite ?? env.RDS_IAM_TEST_PGLITE !== '0';
    if (!found.postgres && pgliteAllowed) {
      try {
        const started = await startPglite();
        found.postgres = started.target;
        stops.push(started.stop);
      } catch (err) {
        tried.postgres.push(`PGlite: ${message(err)}`);
      }
    }

    for (const engine of ENGINES) {
      if (found[engine]) continue;
      const local = options.local?.[engine] ?? DEFAULT_LOCAL[engine];
      skipped.push({
        engine,
        reason: `no ${LABEL[engine]} found: ${hint(engine, local)}; tried: ${tried[engine].join('; ')}`,
      });
    }
    if (isCi(env) && skipped.length > 0) {
      throw new HarnessError(
        `CI=true and the end-to-end tests need both databases, but ${skipped
          .map((s) => s.reason)
          .join(' | ')}`,
      );
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  return { postgres: found.postgres, mysql: found.mysql, skipped, stop: stopAll };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---- probes -----------------------------------------------------------------------------------

interface Login {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/** Connects as admin, reads the version; throws on failure. */
export async function probe(engine: Engine, login: Login, timeoutMs: number): Promise<string> {
  if (engine === 'postgres') {
    const client = new pg.Client({ ...login, connectionTimeoutMillis: timeoutMs });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ v: string }>(
        "SELECT current_setting('server_version') AS v",
      );
      return `PostgreSQL ${rows[0]?.v.split(' ')[0] ?? '?'}`;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  const conn = await mysql.createConnection({ ...login, connectTimeout: timeoutMs });
  conn.on('error', () => undefined);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    const v = String(rows[0]?.v ?? '?');
    return /mariadb/i.test(v) ? `MariaDB ${v.replace(/-MariaDB.*$/i, '')}` : `MySQL ${v}`;
  } finally {
    await conn.end().catch(() => undefined);
  }
}

async function probeUrl(engine: Engine, raw: string, timeoutMs: number): Promise<DatabaseTarget> {
  const name = ENV_URL[engine];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HarnessError(
      `${name} is not a URL (expected ${engine}://user:password@host:port/db)`,
    );
  }
  const schemes = engine === 'postgres' ? ['postgres:', 'postgresql:'] : ['mysql:', 'mariadb:'];
  if (!schemes.includes(url.protocol)) {
    throw new HarnessError(
      `${name} must start with ${schemes.join(' or ')}//, not ${url.protocol}//`,
    );
  }
  const login: Login = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : DEFAULT_LOCAL[engine].port,
    user: decodeURIComponent(url.username) || (engine === 'postgres' ? 'postgres' : 'root'),
    password: decodeURIComponent(url.password),
    database:
      decodeURIComponent(url.pathname.replace(/^\//, '')) ||
      (engine === 'postgres' ? 'postgres' : 'test'),
  };
  try {
    const version = await probe(engine, login, timeoutMs);
    return target(engine, 'env', login, version, `${name} (${login.host}:${login.port})`);
  } catch (err) {
    throw new HarnessError(
      `${name} is set but ${login.host}:${login.port} does not answer as ${login.user}: ${message(err)}`,
    );
  }
}

async function probeLocal(
  engine: Engine,
  at: HostPort,
  timeoutMs: number,
): Promise<{ ok: true; target: DatabaseTarget } | { ok: false; reason: string }> {
  const login: Login =
    engine === 'postgres'
      ? { ...at, user: 'postgres', password: '', database: 'postgres' }
      : { ...at, user: 'root', password: '', database: 'test' };
  try {
    const version = await probe(engine, login, timeoutMs);
    return {
      ok: true,
      target: target(engine, 'local', login, version, `the local server on ${at.host}:${at.port}`),
    };
  } catch (err) {
    return { ok: false, reason: `${at.host}:${at.port}: ${message(err) || 'no answer'}` };
  }
}

function target(
  engine: Engine,
  source: DatabaseSource,
  login: Login,
  version: string,
  description: string,
): DatabaseTarget {
  return {
    engine,
    source,
    host: login.host,
    port: login.port,
    adminUser: login.user,
    adminPassword: login.password,
    database: login.database,
    version,
    enforcesLoginUser: true,
    description,
  };
}

// ---- Testcontainers (only when a Docker engine answers) ---------------------------------------

async function dockerAnswers(
  option: DiscoveryOptions['docker'],
  env: Readonly<Record<string, string | undefined>>,
): Promise<boolean> {
  if (typeof option === 'boolean') return option;
  if (typeof option === 'function') return option();
  if (env.RDS_IAM_TEST_DOCKER === '0') return false;
  return new Promise((resolve) => {
    execFile('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 3_000 }, (err, out) =>
      resolve(!err && out.trim() !== ''),
    );
  });
}

/**
 * The image started for `engine`: `RDS_IAM_TEST_POSTGRES_IMAGE` / `RDS_IAM_TEST_MYSQL_IMAGE` (any
 * tag of the official `postgres`, `mysql` or `mariadb` images, to test another server version), else
 * the default of {@link CONTAINERS}.
 */
export function containerImage(
  engine: Engine,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const name = engine === 'postgres' ? 'RDS_IAM_TEST_POSTGRES_IMAGE' : 'RDS_IAM_TEST_MYSQL_IMAGE';
  return env[name] || CONTAINERS[engine].image;
}

const CONTAINERS: Readonly<
  Record<Engine, { image: string; env: Record<string, string>; ready: RegExp }>
> = {
  postgres: {
    image: 'postgres:15-alpine',
    env: { POSTGRES_HOST_AUTH_METHOD: 'trust' },
    ready: /database system is ready to accept connections/,
  },
  mysql: {
    image: 'mariadb:10.11',
    // Both official images read their own variable names; each ignores the other's.
    env: {
      MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: '1',
      MARIADB_DATABASE: 'test',
      MYSQL_ALLOW_EMPTY_PASSWORD: 'yes',
      MYSQL_DATABASE: 'test',
    },
    ready: /ready for connections/,
  },
};

async function startContainer(
  engine: Engine,
  image: string,
  timeoutMs: number,
): Promise<{ target: DatabaseTarget; stop: () => Promise<void> }> {
  // Loaded only when a Docker engine answers: the suite never needs Docker.
  const { GenericContainer, Wait } = await import('testcontainers');
  const spec = CONTAINERS[engine];
  const port = DEFAULT_LOCAL[engine].port;
  const container = await new GenericContainer(image)
    .withEnvironment(spec.env)
    .withExposedPorts(port)
    // The official images log "ready" twice: once for the init server, once for the real one.
    .withWaitStrategy(Wait.forLogMessage(spec.ready, 2))
    .start();
  const at = { host: container.getHost(), port: container.getMappedPort(port) };
  const stop = async (): Promise<void> => {
    await container.stop();
  };
  const probe = await probeLocal(engine, at, timeoutMs);
  if (!probe.ok) {
    await stop();
    throw new Error(`container ${image} started but ${probe.reason}`);
  }
  return {
    target: {
      ...probe.target,
      source: 'testcontainers',
      description: `a ${image} container`,
    },
    stop,
  };
}

// ---- PGlite ------------------------------------------------------------------------------------

/** A running embedded PostgreSQL (PGlite) behind its socket server on a loopback port. */
export interface RunningPglite {
  readonly target: DatabaseTarget;
  readonly db: PGlite;
  readonly server: PGLiteSocketServer;
  stop(): Promise<void>;
}

/**
 * Starts PGlite (PostgreSQL compiled to WebAssembly, in this process) and its socket server on
 * 127.0.0.1, so that pg and the emulator reach it over TCP. Takes about 3-4 s.
 */
export async function startPglite(
  options: { maxConnections?: number } = {},
): Promise<RunningPglite> {
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
  ]);
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({
    db,
    host: '127.0.0.1',
    port: 0,
    maxConnections: options.maxConnections ?? 32,
  });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  const conn = server.getServerConn();
  const port = Number(conn.slice(conn.lastIndexOf(':') + 1));
  const { rows } = await db.query<{ v: string }>("SELECT current_setting('server_version') AS v");
  let stopped: Promise<void> | undefined;
  return {
    db,
    server,
    target: {
      engine: 'postgres',
      source: 'pglite',
      host: '127.0.0.1',
      port,
      adminUser: 'postgres',
      adminPassword: '',
      database: 'postgres',
      version: `PGlite (PostgreSQL ${rows[0]?.v ?? '?'})`,
      enforcesLoginUser: false,
      description: `embedded PGlite on 127.0.0.1:${port}`,
    },
    stop() {
      stopped ??= (async () => {
        await server.stop();
        await db.close();
      })();
      return stopped;
    },
  };
}
