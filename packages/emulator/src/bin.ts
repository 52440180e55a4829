#!/usr/bin/env node
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { CertificateAuthorityPem } from './certificate.js';
import { type Emulator, type EmulatorEngine, startEmulator } from './emulator.js';
import { DEMO_CREDENTIALS } from './verify.js';

const USAGE = `Usage: rds-iam-emulator --engine postgres|mysql [options]

A local Amazon RDS IAM endpoint: verifies IAM auth tokens as RDS does, then relays to a real server.

Options:
  --engine <postgres|mysql>   wire protocol (default postgres)
  --upstream <url>            real server: postgres://[user[:password]@]host:port or mysql://...
                              (default postgres://127.0.0.1:5432 / mysql://127.0.0.1:3306)
  --host <address>            listen address (default 127.0.0.1)
  --port <n>                  listen port (default 0: any free port)
  --endpoint <host:port>      the RDS endpoint tokens must be signed for (default: listen address)
  --region <region>           region tokens must be signed for (default us-east-1)
  --no-tls-required           accept logins without TLS
  --ca-file <path>            where to write the CA certificate clients trust
                              (default: <tmpdir>/rds-iam-emulator-ca-<port>.pem)
  --ca-key-file <path>        keep the CA across restarts (needs --ca-file): if both files exist,
                              issue from that CA; otherwise write the new CA's private key here
                              (mode 0600; a test-only secret)
  --handshake-timeout <ms>    drop clients that take longer to log in (default 10000)
  -h, --help                  this text
`;

/**
 * Where the CLI writes.
 * @example
 * ```ts
 * const lines: string[] = [];
 * await main(['--help'], { stdout: { write: (s) => lines.push(s) }, stderr: process.stderr });
 * ```
 */
export interface CliIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

/**
 * A started CLI: the emulator and the path of the CA file it wrote.
 * @example
 * ```ts
 * const run: CliRun | undefined = await main(['--engine', 'postgres']);
 * console.log(run?.caFile);
 * await run?.emulator.stop();
 * ```
 */
export interface CliRun {
  readonly emulator: Emulator;
  readonly caFile: string;
}

function parseEndpoint(value: string): { host: string; port?: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(value.trim());
  if (!m?.[1]) throw new UsageError(`--endpoint ${value}: expected host:port`);
  return m[2] ? { host: m[1], port: Number(m[2]) } : { host: m[1] };
}

class UsageError extends Error {}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/**
 * Runs the `rds-iam-emulator` command: parses `argv` (without `node` and the script), starts the
 * emulator, writes the CA file and prints how to connect. Returns once listening; the caller stops
 * it. Returns `undefined` after printing help or a usage error (exit code set).
 *
 * @example
 * ```ts
 * const run = await main(['--engine', 'postgres', '--upstream', 'postgres://127.0.0.1:5432']);
 * await run?.emulator.stop();
 * ```
 */
export async function main(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<CliRun | undefined> {
  let values: {
    engine?: string;
    upstream?: string;
    host?: string;
    port?: string;
    endpoint?: string;
    region?: string;
    'no-tls-required'?: boolean;
    'ca-file'?: string;
    'ca-key-file'?: string;
    'handshake-timeout'?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        engine: { type: 'string' },
        upstream: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        endpoint: { type: 'string' },
        region: { type: 'string' },
        'no-tls-required': { type: 'boolean' },
        'ca-file': { type: 'string' },
        'ca-key-file': { type: 'string' },
        'handshake-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    process.exitCode = 2;
    return undefined;
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return undefined;
  }
  try {
    const engine = (values.engine ?? 'postgres') as EmulatorEngine;
    if (engine !== 'postgres' && engine !== 'mysql') {
      throw new UsageError(`--engine ${values.engine}: expected postgres or mysql`);
    }
    const upstream =
      values.upstream ??
      (engine === 'postgres' ? 'postgres://127.0.0.1:5432' : 'mysql://127.0.0.1:3306');
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UsageError(`--port ${values.port}: expected 0-65535`);
    }
    const handshakeTimeoutMs =
      values['handshake-timeout'] === undefined ? undefined : Number(values['handshake-timeout']);
    if (handshakeTimeoutMs !== undefined && !(handshakeTimeoutMs > 0)) {
      throw new UsageError(`--handshake-timeout ${values['handshake-timeout']}: expected ms > 0`);
    }
    const caKeyFile =
      values['ca-key-file'] === undefined ? undefined : resolve(values['ca-key-file']);
    let certificateAuthority: CertificateAuthorityPem | undefined;
    if (caKeyFile !== undefined) {
      if (values['ca-file'] === undefined) {
        throw new UsageError('--ca-key-file needs --ca-file (the CA certificate it belongs to)');
      }
      const certFile = resolve(values['ca-file']);
      if (existsSync(certFile) && existsSync(caKeyFile)) {
        certificateAuthority = {
          certPem: readFileSync(certFile, 'utf8'),
          keyPem: readFileSync(caKeyFile, 'utf8'),
        };
      }
    }
    const emulator = await startEmulator({
      engine,
      upstream,
      port,
      requireTls: !values['no-tls-required'],
      ...(values.host !== undefined ? { host: values.host } : {}),
      ...(values.endpoint !== undefined ? { endpoint: parseEndpoint(values.endpoint) } : {}),
      ...(values.region !== undefined ? { region: values.region } : {}),
      ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
      ...(certificateAuthority !== undefined ? { certificateAuthority } : {}),
    });
    const caFile = resolve(
      values['ca-file'] ?? join(tmpdir(), `rds-iam-emulator-ca-${emulator.port}.pem`),
    );
    try {
      writeFileSync(caFile, emulator.caPem, { mode: 0o644 });
      if (caKeyFile !== undefined && certificateAuthority === undefined) {
        writeFileSync(caKeyFile, emulator.certificateAuthority.keyPem, { mode: 0o600 });
      }
    } catch (err) {
      await emulator.stop();
      throw err;
    }
    const { host, port: listenPort, endpoint, region } = emulator;
    const tlsLine = values['no-tls-required'] ? 'optional' : 'required';
    io.stdout.write(
      [
        `rds-iam emulator (${engine}) listening on ${host}:${listenPort}`,
        `  upstream   ${redactUrl(upstream)}`,
        `  endpoint   ${endpoint.host}:${endpoint.port} in ${region} (sign tokens for this host:port)`,
        `  TLS        ${tlsLine}; CA certificate: ${caFile}`,
        ...(caKeyFile === undefined
          ? []
          : [
              `  CA key     ${caKeyFile} (${certificateAuthority ? 'reused' : 'new'}; test-only secret)`,
            ]),
        '  accepted credentials (demo, not a real AWS key):',
        `    AWS_ACCESS_KEY_ID=${DEMO_CREDENTIALS.accessKeyId}`,
        `    AWS_SECRET_ACCESS_KEY=${DEMO_CREDENTIALS.secretAccessKey}`,
        `    AWS_REGION=${region}`,
        '  Ctrl-C to stop',
        '',
      ].join('\n'),
    );
    return { emulator, caFile };
  } catch (err) {
    io.stderr.write(`rds-iam-emulator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
    return undefined;
  }
}

if (require.main === module) {
  // Handlers first: a signal that arrives while starting must still stop cleanly.
  let run: CliRun | undefined;
  let signalled = false;
  const shutdown = (): void => {
    signalled = true;
    if (!run) return; // stopped as soon as it is up
    run.emulator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  void main(process.argv.slice(2)).then((started) => {
    run = started;
    if (!run) process.exit();
    if (signalled) shutdown();
  });
}
