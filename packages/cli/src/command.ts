import type { Io } from './io.js';

/** One `rds-iam` sub-command. */
export interface Command {
  readonly name: string;
  /** One line for `rds-iam --help`. */
  readonly summary: string;
  /** The full `--help` text, with examples. */
  readonly help: string;
  /** Runs the command; resolves to the exit code. Usage errors are thrown as `UsageError`. */
  run(argv: readonly string[], io: Io): Promise<number>;
}

/** The exit-code table, shared by every `--help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  a check failed, the server rejected the login, or the token is expired
  2  usage error (unknown or missing option, bad value)
  3  no token could be minted (AWS credentials, region, signing)
  4  an AWS API call failed (policy --instance / --cluster)
  connect: the client's own exit code; 127 when the client is not installed`;
