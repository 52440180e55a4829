import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_CREDENTIALS } from '@rds-iam/emulator';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** The built binary the tests run, as users do. */
export const BIN = join(packageDir, 'dist', 'bin.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Fails fast, with the fix, when the binary is missing or older than its sources. */
export function assertBuilt(): void {
  if (!existsSync(BIN)) {
    throw new Error(
      `${BIN} is missing: run "pnpm -C packages/cli build" first (after core and emulator)`,
    );
  }
  if (newestMtime(join(packageDir, 'src')) > statSync(BIN).mtimeMs + 1000) {
    throw new Error('packages/cli/dist is older than src: run "pnpm -C packages/cli build" first');
  }
}

/** A private directory for AWS config files that do not exist, so no local profile leaks in. */
const isolation = mkdtempSync(join(tmpdir(), 'rds-iam-cli-test-'));
const scratch: string[] = [isolation];
/** Removes this test file's scratch directories; every test file calls it in `afterAll`. */
export function removeScratch(): void {
  // Retries: a client the test ran may still be removing its own files in there.
  for (const dir of scratch.splice(0)) {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

/**
 * An environment with no AWS settings of this machine: no profile, no instance metadata look-ups
 * (which would take seconds to time out), no colour.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(AWS_|FORCE_COLOR|NO_COLOR|PG|MYSQL_)/.test(key)) env[key] = value;
  }
  Object.assign(env, {
    AWS_CONFIG_FILE: join(isolation, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(isolation, 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** The emulator's demo credentials as environment variables. */
export const DEMO_ENV = {
  AWS_ACCESS_KEY_ID: DEMO_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: DEMO_CREDENTIALS.secretAccessKey,
};

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `rds-iam` as a child process (asynchronously: an emulator in this process must keep
 * serving while the child talks to it).
 */
export function rdsIam(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return runProcess(process.execPath, [BIN, ...args], options);
}

/** Runs any program and collects its output. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(command, [...args], {
      env: options.env ?? cleanEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
    // A child that exits without reading its stdin makes this write fail with EPIPE; unhandled, that
    // would be an uncaught error in the test process although the test itself passed.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Whether something accepts TCP connections on host:port. */
export function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = net.connect({ host, port });
    const finish = (ok: boolean): void => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/**
 * The upstream database for a suite: `RDS_IAM_TEST_POSTGRES_URL` / `RDS_IAM_TEST_MYSQL_URL`, else
 * the local server. `undefined` when it is not reachable; under `CI=true` that is an error.
 */
export async function upstreamFor(
  engine: 'postgres' | 'mysql',
): Promise<{ url: string; host: string; port: number; user: string } | undefined> {
  const variable = engine === 'postgres' ? 'RDS_IAM_TEST_POSTGRES_URL' : 'RDS_IAM_TEST_MYSQL_URL';
  const url =
    process.env[variable] ??
    (engine === 'postgres' ? 'postgres://postgres@127.0.0.1:5432' : 'mysql://root@127.0.0.1:3306');
  const parsed = new URL(url);
  const host = parsed.hostname;
  const port = Number(parsed.port || (engine === 'postgres' ? 5432 : 3306));
  const user = decodeURIComponent(parsed.username || (engine === 'postgres' ? 'postgres' : 'root'));
  if (await reachable(host, port))
    return { url: `${parsed.protocol}//${host}:${port}`, host, port, user };
  if (process.env.CI === 'true')
    throw new Error(`CI=true and no ${engine} server at ${host}:${port} (${variable})`);
  return undefined;
}

/** A JSON line from a command's stdout. */
export function json<T = Record<string, unknown>>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as T;
}

/** A doctor check from `--json` output. */
export function check(
  stdout: string,
  id: string,
): { id: string; status: string; detail: string; fix?: string; causes?: string[] } {
  const report = json<{
    checks: { id: string; status: string; detail: string; fix?: string; causes?: string[] }[];
  }>(stdout);
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check '${id}' in ${stdout}`);
  return found;
}

/**
 * PostgreSQL SQL that makes `user` an IAM user as the seed does (`CREATE USER`, `GRANT rds_iam`), when
 * it is not one yet. RDS has the rds_iam role; a local server gets it here.
 */
export function pgIamUserSql(user: string): string {
  // Test files run in parallel: a concurrent CREATE of the same role is not an error here.
  const create = (sql: string) =>
    `DO $$BEGIN ${sql}; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END$$`;
  return `${create('CREATE ROLE rds_iam NOLOGIN')}; ${create(`CREATE USER ${user}`)}; GRANT rds_iam TO ${user}`;
}

/** Runs SQL as the upstream's administrator through the native client; throws on failure. */
export async function adminSql(
  engine: 'postgres' | 'mysql',
  upstream: { host: string; port: number; user: string },
  sql: string,
): Promise<string> {
  const env = cleanEnv();
  const r =
    engine === 'postgres'
      ? await runProcess(
          'psql',
          [
            '-h',
            upstream.host,
            '-p',
            String(upstream.port),
            '-U',
            upstream.user,
            '-d',
            'postgres',
            '-v',
            'ON_ERROR_STOP=1',
            '-tAc',
            sql,
          ],
          { env },
        )
      : await runProcess(
          (await hasCommand('mariadb')) ? 'mariadb' : 'mysql',
          [
            '-h',
            upstream.host,
            '-P',
            String(upstream.port),
            '-u',
            upstream.user,
            '--protocol=TCP',
            '-N',
            '-e',
            sql,
          ],
          { env },
        );
  if (r.code !== 0) throw new Error(`admin SQL failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Whether an executable is on PATH. */
export async function hasCommand(name: string): Promise<boolean> {
  try {
    const r = await runProcess(name, ['--version'], { env: cleanEnv() });
    return r.code === 0;
  } catch {
    return false;
  }
}

/** What the recording client wrapper saw. */
export interface ClientRecord {
  argv: string[];
  pgpassword: string | null;
  mysqlPwd: string | null;
  optionFile: string | null;
  optionFileMode: string | null;
  optionDirMode: string | null;
}

/**
 * Writes an executable that records its argv, environment password and option-file permissions to
 * `record`, then runs `real` with the same arguments and passes its exit code on.
 */
export function writeRecordingClient(dir: string, real: string, record: string): string {
  const path = join(dir, `record-${real}.mjs`);
  writeFileSync(
    path,
    `#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
const argv = process.argv.slice(2);
const prefix = '--defaults-extra-file=';
const file = argv.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? null;
const mode = (p) => (statSync(p).mode & 0o777).toString(8);
writeFileSync(${JSON.stringify(record)}, JSON.stringify({
  argv,
  pgpassword: process.env.PGPASSWORD ?? null,
  mysqlPwd: process.env.MYSQL_PWD ?? null,
  optionFile: file,
  optionFileMode: file ? mode(file) : null,
  optionDirMode: file ? mode(dirname(file)) : null,
}));
const r = spawnSync(${JSON.stringify(real)}, argv, { stdio: 'inherit' });
process.exit(r.status ?? 1);
`,
    { mode: 0o755 },
  );
  return path;
}

/** Reads what the recording client saw. */
export function readRecord(path: string): ClientRecord {
  return JSON.parse(readFileSync(path, 'utf8')) as ClientRecord;
}

/** A fresh private directory for one test file, removed after its tests. */
export function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rds-iam-cli-test-'));
  scratch.push(dir);
  return dir;
}

/** Whether a PostgreSQL server answers an SSLRequest with 'S'. */
export function postgresOffersTls(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = net.connect({ host, port }, () =>
      socket.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47])),
    );
    socket.once('data', (d) => {
      socket.destroy();
      done(d.toString('latin1', 0, 1) === 'S');
    });
    socket.once('error', () => done(false));
  });
}

/** Whether a MySQL server's greeting has CLIENT_SSL. */
export function mysqlOffersTls(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = net.connect({ host, port });
    socket.once('data', (d) => {
      socket.destroy();
      const versionEnd = d.indexOf(0, 5);
      const caps = d.readUInt16LE(versionEnd + 1 + 4 + 8 + 1);
      done((caps & 0x800) !== 0);
    });
    socket.once('error', () => done(false));
  });
}

/** A loopback stand-in of an AWS Query-protocol API (RDS, STS, IAM): form body in, XML out. */
export interface QueryApiStandIn {
  /** `http://127.0.0.1:PORT`, for `--endpoint-url` / `AWS_ENDPOINT_URL_*`. */
  readonly endpoint: string;
  /** Every request's form parameters, in order. */
  readonly requests: URLSearchParams[];
  close(): Promise<void>;
}

/**
 * Starts a {@link QueryApiStandIn}; `answer` gets the form parameters and the access key id of the
 * request's signature and returns the XML (with a status for errors).
 */
export async function startQueryApiStandIn(
  answer: (params: URLSearchParams, accessKeyId: string) => { status?: number; xml: string },
): Promise<QueryApiStandIn> {
  const requests: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    let body = '';
    // The CLI is a child process that may exit with a request of its own still open; a reset
    // socket must not become an uncaught error in this test process.
    req.on('error', () => {});
    res.on('error', () => {});
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
    });
    req.on('end', () => {
      const params = new URLSearchParams(body);
      requests.push(params);
      const key = /Credential=([A-Z0-9]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const { status, xml } = answer(params, key);
      res.statusCode = status ?? 200;
      res.setHeader('content-type', 'text/xml');
      res.end(xml);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests,
    close() {
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeAllConnections();
      return closed;
    },
  };
}
