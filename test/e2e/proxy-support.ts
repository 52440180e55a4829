// Shared by the proxy's end-to-end files: a proxy in front of the harness's emulator, the clients
// tools use, and a raw process runner. Not a test file (no `.test.ts`).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  type LocalProxy,
  type LocalProxyOptions,
  type ProxyLogEntry,
  startLocalProxy,
} from '@rds-iam/proxy';
import type { IamEndpoint } from '../harness/index.js';

/** The rds-iam command as built. */
export const BIN = fileURLToPath(new URL('../../packages/cli/bin/rds-iam.js', import.meta.url));

/** A proxy, the log entries it wrote, and the options it got. */
export interface ProxyUnderTest {
  readonly proxy: LocalProxy;
  readonly logs: ProxyLogEntry[];
}

/**
 * A proxy for `user` in front of `iam` (the emulator standing in for RDS): it dials 127.0.0.1, signs
 * for the emulated RDS endpoint with the demo credentials, and verifies the emulator's certificate
 * as it would verify RDS's.
 */
export async function proxyFor(
  iam: IamEndpoint,
  user: string,
  extra: Partial<LocalProxyOptions> = {},
): Promise<ProxyUnderTest> {
  const logs: ProxyLogEntry[] = [];
  const proxy = await startLocalProxy({
    engine: iam.engine,
    host: iam.host,
    port: iam.port,
    user,
    signingHost: iam.endpoint.host,
    signingPort: iam.endpoint.port,
    region: iam.region,
    credentials: iam.credentials,
    ssl: iam.tls,
    now: iam.clock.now,
    onLog: (e) => logs.push(e),
    ...extra,
  });
  return { proxy, logs };
}

/** The options of {@link proxyFor}, for the command line. */
export function proxyFlags(iam: IamEndpoint, user: string, caFile: string): string[] {
  return [
    '--engine',
    iam.engine,
    '--host',
    iam.host,
    '--port',
    String(iam.port),
    '--user',
    user,
    '--signing-host',
    iam.endpoint.host,
    '--signing-port',
    String(iam.endpoint.port),
    '--region',
    iam.region,
    '--ca-file',
    caFile,
  ];
}

/**
 * The same as a `--target` URL (doctor's and proxy's): `user` at `iam`, signed for the emulated RDS
 * endpoint, verified against the CA in `caFile`, listening (for the proxy) on a free loopback port.
 */
export function targetUrl(
  iam: IamEndpoint,
  user: string,
  database: string | undefined,
  caFile: string,
): string {
  const query = new URLSearchParams({
    listen: '127.0.0.1:0',
    region: iam.region,
    'signing-host': iam.endpoint.host,
    'signing-port': String(iam.endpoint.port),
    'ca-file': caFile,
  });
  return `${iam.engine}://${user}@${iam.host}:${iam.port}/${database ?? ''}?${query}`;
}

/** The environment a tool runs in: no password and no AWS key of the test's own. */
export function toolEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
  return env;
}

/** Runs a command-line tool to its end, within 30 s; rejects with its stderr on failure. */
export function run(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = toolEnv(),
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { env, timeout: 30_000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(Object.assign(err, { stdout, stderr }));
        else resolve({ stdout, stderr });
      },
    );
  });
}

/** What no log line, error or metric may contain: a token's signature or the token itself. */
export function assertNoToken(text: string): void {
  if (/X-Amz-Signature|X-Amz-Credential|Action=connect/i.test(text)) {
    throw new Error(`token material in: ${text.slice(0, 200)}`);
  }
}

/** `rds-iam proxy` running in the background, from {@link startProxyCommand}. */
export interface RunningProxyCommand {
  readonly child: ChildProcess;
  /** JSON lines printed on stdout (one per target, then the health URL). */
  readonly ready: Array<Record<string, string>>;
  readonly stderr: string[];
  readonly exited: Promise<number | null>;
}

/**
 * Starts `rds-iam proxy ARGS` (ARGS with `--json`) and resolves once it printed `lines` JSON lines on
 * stdout (one per target, then the health URL); rejects with its stderr if it exits first.
 */
export function startProxyCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  lines: number,
): Promise<RunningProxyCommand> {
  const child = spawn(process.execPath, [BIN, 'proxy', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (b: Buffer) => stderr.push(b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  return new Promise((resolve, reject) => {
    let out = '';
    const ready: Array<Record<string, string>> = [];
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const done = out.split('\n').filter((l) => l.startsWith('{'));
      if (done.length >= lines) {
        ready.push(...done.map((l) => JSON.parse(l) as Record<string, string>));
        resolve({ child, ready, stderr, exited });
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${stderr.join('')}`)));
  });
}
