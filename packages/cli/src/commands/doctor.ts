import {
  COMMON_OPTIONS,
  CONNECTION_HELP,
  noExtraPositionals,
  type Parsed,
  parse,
  TARGET_OPTIONS,
  targetHelp,
  timeoutArgs,
} from '../args.js';
import { type Command, EXIT_CODES_HELP } from '../command.js';
import { diagnose } from '../doctor/diagnose.js';
import { reporter } from '../doctor/report.js';
import { EXIT, UsageError } from '../errors.js';
import { readPolicyFiles } from '../policy-files.js';
import { CONTEXT_HELP, CONTEXT_OPTIONS, requestContextOf } from '../request-context.js';
import { type TargetArgs, targetsOf } from '../targets.js';
import { accountOption, resourceIdOption } from './policy-target.js';

/** The options of `rds-iam doctor`: the targets as `proxy` takes them, and the policy check's. */
export const DOCTOR_OPTIONS = {
  ...COMMON_OPTIONS,
  ...TARGET_OPTIONS,
  /** The older name of `--connect-timeout`. */
  timeout: { type: 'string' },
  'resource-id': { type: 'string' },
  account: { type: 'string' },
  'policy-file': { type: 'string', multiple: true },
  ...CONTEXT_OPTIONS,
} as const;

/** Doctor's bound on the connection when `--connect-timeout` is not given. */
const DOCTOR_CONNECT_TIMEOUT_MS = 5_000;

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check an IAM login step by step and explain what fails',
  help: `Usage: rds-iam doctor --host <host> --user <user> [--engine <engine>] [--port <port>] [options]
       rds-iam doctor --target URL [--target URL ...] [options]

Walks through an IAM database login and says, for each step, whether it works and how to fix it:
  endpoint     the hostname parsed: kind (instance, cluster, reader, proxy, ...) and region
  credentials  AWS credentials resolve (and from which source, when it can tell)
  token        a token is minted and decodes: user, endpoint, region, lifetime
  clock        the local clock against the token's date (offline there is no time source; the
               server's clock is compared after login, see "server-clock")
  dns          the host resolves
  tcp          the port accepts a connection
  tls          the server offers TLS and its certificate verifies against the RDS CAs (or
               --ca-file) for the signing host name
  login        the server accepts the token (PostgreSQL: StartupMessage + cleartext password;
               MySQL: handshake + mysql_clear_password), and on a rejection the likely causes for
               that exact message
  server-clock the server's clock against this machine's
  authorization with --resource-id: may the caller rds-db:connect as the user? With --policy-file
               the policies are evaluated locally (as rds-iam policy check does, needs --account);
               without, IAM's policy simulator is asked (sts:GetCallerIdentity, then
               iam:SimulatePrincipalPolicy for that principal; AWS_ENDPOINT_URL_STS / _IAM apply)
The token is only ever sent over a verified TLS connection, and is never printed.

Options:
${CONNECTION_HELP}
${targetHelp(DOCTOR_CONNECT_TIMEOUT_MS)}
                          (the DNS lookup within it, then TCP, TLS and the login together within
                          it; --timeout is its older name)
  --resource-id <id>      the database's resource id (db-..., cluster-..., prx-...): check the IAM policy
  --account <id>          the database's account id (default with the simulator: the caller's)
  --policy-file <file>    evaluate this identity policy locally instead of asking IAM (repeatable)
The request context of the authorization check (used locally and passed to IAM's simulator):
${CONTEXT_HELP}
  --json                  {"ok", "checks": [{"id", "status", "detail", "fix", "causes"}], ...}, one
                          line per target
  --help                  this text

Examples:
  rds-iam doctor --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --engine postgres --user app
  rds-iam doctor --host localhost --port 15432 --engine mysql --user app \\
    --signing-host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --signing-port 3306
  rds-iam doctor --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --engine postgres --user app \\
    --resource-id db-ABCDEFGHIJKL01234 --account 123456789012 --policy-file policy.json
  rds-iam doctor --target 'mysql://app@mydb.abc123xyz.eu-west-1.rds.amazonaws.com/shop?listen=127.0.0.1:3307'
    (the same --target, --ca-file, --region, --profile and timeouts as rds-iam proxy)

Exit code 0 when every check of every target passes (warnings allowed), 1 when one fails.

${EXIT_CODES_HELP}
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, DOCTOR_OPTIONS);
    noExtraPositionals(positionals);
    const { targets, timeouts } = doctorPlan(values);
    const resourceId = resourceIdOption(values['resource-id']);
    const account = accountOption(values.account);
    const policyPaths = values['policy-file'] ?? [];
    if (resourceId !== undefined && targets.length > 1) {
      throw new UsageError('--resource-id names one database: give one --target with it');
    }
    if (policyPaths.length > 0 && (resourceId === undefined || account === undefined)) {
      throw new UsageError(
        '--policy-file needs --resource-id and --account (the dbuser ARN the policy must allow)',
      );
    }
    if (resourceId === undefined && account !== undefined) {
      throw new UsageError('--account needs --resource-id (the dbuser ARN to check)');
    }
    // A malformed --context is bad input: refused before any network call.
    requestContextOf(values, targets[0]?.region ?? '');
    const policies = policyPaths.length > 0 ? await readPolicyFiles(policyPaths, io) : undefined;
    const authorization =
      resourceId === undefined
        ? undefined
        : { account, resourceId, policies, env: io.env, context: values };
    let exit: number = EXIT.OK;
    for (const target of targets) {
      const report = reporter(io, Boolean(values.json));
      const code = await diagnose(target, { ...timeouts, authorization }, report, io);
      if (code !== EXIT.OK) exit = code;
    }
    return exit;
  },
};

/**
 * What `doctor` checks for a command line: the targets (one parser with `proxy`) and the bounds
 * (the same flags as `proxy`, with doctor's shorter default for the connection, since a hung step is
 * what it is there to find). `targetsOf` reads the CA files, so that a bad one is refused before any
 * network call.
 *
 * @throws {UsageError} for anything `proxy` would refuse in the same words.
 */
export function doctorPlan(values: Parsed<typeof DOCTOR_OPTIONS>['values']): {
  targets: TargetArgs[];
  timeouts: { credentialsTimeoutMs?: number; connectTimeoutMs: number };
} {
  const targets = targetsOf(values);
  if (values.timeout !== undefined && values['connect-timeout'] !== undefined) {
    throw new UsageError('--timeout is the old name of --connect-timeout: give one of them');
  }
  const connect =
    values.timeout !== undefined
      ? { value: values.timeout, name: 'timeout' }
      : { value: values['connect-timeout'], name: 'connect-timeout' };
  const timeouts = timeoutArgs(values, connect);
  return {
    targets,
    timeouts: {
      ...timeouts,
      connectTimeoutMs: timeouts.connectTimeoutMs ?? DOCTOR_CONNECT_TIMEOUT_MS,
    },
  };
}
