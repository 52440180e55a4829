import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RdsIamError } from '@rds-iam/core';
import { startEmulator } from './emulator.js';
import {
  EMULATOR_FLAGS,
  EMULATOR_FLAGS_HELP,
  EmulatorUsageError,
  formatLogin,
  redactUpstream,
  resolveEmulatorFlags,
} from './flags.js';
import type { Emulator } from './options.js';
import { formatWarning } from './upstream-check.js';
import type { EmulatorCredentials } from './verify.js';

const USAGE = `Usage: rds-iam-emulator --engine postgres|mysql [options]

A local Amazon RDS IAM endpoint: verifies IAM auth tokens as RDS does (and, with --policy-file, the
IAM policy), then relays to a real server. The same flags as "rds-iam emulator".

Options:
${EMULATOR_FLAGS_HELP}
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
  let values: ReturnType<typeof parseArgs<{ options: typeof EMULATOR_FLAGS }>>['values'];
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: EMULATOR_FLAGS,
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
    const flags = resolveEmulatorFlags(values);
    const { engine, upstream } = flags.options;
    const caKeyFile = flags.caKeyFile;
    const emulator = await startEmulator({
      ...flags.options,
      ...(flags.quiet ? {} : { onLogin: (l) => io.stderr.write(`${formatLogin(l)}\n`) }),
      onWarning: (message) => io.stderr.write(`${formatWarning(message)}\n`),
    });
    const caFile =
      flags.caFile ?? resolve(join(tmpdir(), `rds-iam-emulator-ca-${emulator.port}.pem`));
    try {
      writeFileSync(caFile, emulator.caPem, { mode: 0o644 });
      if (caKeyFile !== undefined && !flags.caReused) {
        writeFileSync(caKeyFile, emulator.certificateAuthority.keyPem, { mode: 0o600 });
      }
    } catch (err) {
      await emulator.stop();
      throw err;
    }
    const { host, port: listenPort, endpoint, region } = emulator;
    const tlsLine = flags.options.requireTls ? 'required' : 'optional';
    if (flags.json) {
      io.stdout.write(
        `${JSON.stringify(readyJson(emulator, caFile, upstream, flags.printedCredentials, flags.options.requireTls))}\n`,
      );
      return { emulator, caFile };
    }
    io.stdout.write(
      [
        `rds-iam emulator (${engine}) listening on ${host}:${listenPort}`,
        `  upstream   ${redactUpstream(upstream)}`,
        `  endpoint   ${endpoint.host}:${endpoint.port} in ${region} (sign tokens for this host:port)`,
        `  TLS        ${tlsLine}; CA certificate: ${caFile}`,
        ...(caKeyFile === undefined
          ? []
          : [`  CA key     ${caKeyFile} (${flags.caReused ? 'reused' : 'new'}; test-only secret)`]),
        ...policyLines(emulator, flags.printedCredentials),
        '  accepted credentials (demo, not a real AWS key):',
        `    AWS_ACCESS_KEY_ID=${flags.printedCredentials.accessKeyId}`,
        `    AWS_SECRET_ACCESS_KEY=${flags.printedCredentials.secretAccessKey}`,
        `    AWS_REGION=${region}`,
        '  Ctrl-C to stop',
        '',
      ].join('\n'),
    );
    return { emulator, caFile };
  } catch (err) {
    io.stderr.write(`rds-iam-emulator: ${err instanceof Error ? err.message : String(err)}\n`);
    const usage =
      err instanceof EmulatorUsageError ||
      (err instanceof RdsIamError && err.code.startsWith('ERR_POLICY_'));
    process.exitCode = usage ? 2 : 1;
    return undefined;
  }
}

/**
 * What both commands print with `--json` once listening: where to dial, what to trust, the key.
 * @example
 * ```ts
 * process.stdout.write(`${JSON.stringify(readyJson(emulator, caFile, upstream, DEMO_CREDENTIALS, true))}\n`);
 * ```
 */
export function readyJson(
  emulator: Emulator,
  caFile: string,
  upstream: string,
  credentials: EmulatorCredentials,
  tlsRequired: boolean,
): Record<string, unknown> {
  return {
    engine: emulator.engine,
    host: emulator.host,
    port: emulator.port,
    endpoint: emulator.endpoint,
    region: emulator.region,
    accountId: emulator.accountId,
    resourceId: emulator.resourceId,
    policies: credentials.policies?.length ?? 0,
    caFile,
    tlsRequired,
    upstream: redactUpstream(upstream),
    credentials: {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: emulator.region,
    },
  };
}

/**
 * The banner lines about authorization: the dbuser ARN logins are evaluated for, and whether the
 * printed key has policies.
 * @example
 * ```ts
 * lines.push(...policyLines(emulator, flags.printedCredentials));
 * ```
 */
export function policyLines(emulator: Emulator, credentials: EmulatorCredentials): string[] {
  const count = credentials.policies?.length ?? 0;
  return [
    `  dbuser ARN ${emulator.dbUserArn('USER')}`,
    count === 0
      ? '  policies   none: the demo key may log in as any user (add --policy-file to check one)'
      : `  policies   ${count} for the demo key: logins they do not allow are refused as on RDS`,
  ];
}
