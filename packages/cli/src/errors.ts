import { RdsIamError, redact } from '@rds-iam/core';

/**
 * The exit codes of every `rds-iam` command. `connect` also passes the native client's own exit
 * code through.
 */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** A check failed, the server rejected the login, or the token is expired (`decode`). */
  FAILED: 1,
  /** A usage error: unknown or missing option, bad value. Nothing was attempted. */
  USAGE: 2,
  /** No token could be minted: AWS credentials, region or signing. */
  NO_TOKEN: 3,
  /** An AWS API call failed (`policy --instance / --cluster`). */
  AWS_API: 4,
  /** `connect`: the native client was not found. */
  CLIENT_NOT_FOUND: 127,
} as const;

/** A bad command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure with a chosen exit code and a message that already says what to do. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: number;
  readonly code: string;

  constructor(message: string, exitCode: number, code = 'ERR_CLI') {
    super(message);
    this.exitCode = exitCode;
    this.code = code;
  }
}

const USAGE_CODES = new Set([
  'ERR_INVALID_HOST',
  'ERR_INVALID_PORT',
  'ERR_INVALID_USER',
  'ERR_INVALID_OPTION',
  'ERR_CONFLICTING_OPTIONS',
  'ERR_INVALID_TOKEN',
  'ERR_POLICY_NOT_JSON',
  'ERR_POLICY_NO_STATEMENT',
  'ERR_POLICY_INVALID',
]);

/** The exit code for anything thrown by a command. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof RdsIamError) {
    // Every policy error is bad input: a document IAM would refuse, or a malformed context value.
    const usage = USAGE_CODES.has(err.code) || err.code.startsWith('ERR_POLICY_');
    return usage ? EXIT.USAGE : EXIT.NO_TOKEN;
  }
  return EXIT.FAILED;
}

/** A stable code for `--json` error output. */
export function errorCodeOf(err: unknown): string {
  if (err instanceof UsageError) return 'ERR_USAGE';
  if (err instanceof CliError || err instanceof RdsIamError) return err.code;
  return 'ERR_UNEXPECTED';
}

/**
 * One line, without token text: core messages lose their `rds-iam: ` prefix (the CLI adds its own)
 * and everything is passed through `redact` once more.
 */
export function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return redact(
    text
      .replace(/^rds-iam: /, '')
      .replace(/\s*\n\s*/g, ' ')
      .replace(
        /`(host|port|user|region|profile|signingHost|signingPort|credentialsTimeoutMs|ssl\.caFile)`/g,
        (_, name: string) => FLAGS[name] ?? name,
      ),
  ).trim();
}

/** Core messages name options as the API spells them; the CLI user knows the flags. */
const FLAGS: Record<string, string> = {
  host: '--host',
  port: '--port',
  user: '--user',
  region: '--region',
  profile: '--profile',
  signingHost: '--signing-host',
  signingPort: '--signing-port',
  credentialsTimeoutMs: '--credentials-timeout',
  'ssl.caFile': '--ca-file',
};
