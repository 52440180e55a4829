import { closest } from './args.js';
import { type Command, EXIT_CODES_HELP } from './command.js';
import { connectCommand } from './commands/connect.js';
import { decodeCommand } from './commands/decode.js';
import { doctorCommand } from './commands/doctor.js';
import { emulatorCommand } from './commands/emulator.js';
import { policyCommand } from './commands/policy.js';
import { proxyCommand } from './commands/proxy.js';
import { tokenCommand } from './commands/token.js';
import { urlCommand } from './commands/url.js';
import { EXIT, errorCodeOf, exitCodeOf, messageOf, UsageError } from './errors.js';
import { type Io, styleFor, writeJson } from './io.js';

/** Every sub-command, in `--help` order. */
export const COMMANDS: readonly Command[] = [
  tokenCommand,
  urlCommand,
  connectCommand,
  decodeCommand,
  policyCommand,
  doctorCommand,
  emulatorCommand,
  proxyCommand,
];

function version(): string {
  try {
    // A literal require(), so bundles carry the manifest along.
    const pkg = require('../package.json') as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: rds-iam <command> [options]

IAM database authentication for Amazon RDS, Aurora and RDS Proxy (PostgreSQL, MySQL, MariaDB).

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "rds-iam <command> --help" for its options and examples, "rds-iam version" for the version.
Every command takes --json.
AWS credentials come from the SDK default chain (environment, SSO, profiles, instance/task roles)
or --profile. Colour only on a terminal; NO_COLOR turns it off.

Examples:
  rds-iam token --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --port 5432 --user app
  rds-iam connect psql --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --user app
  rds-iam doctor --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --engine mysql --user app
  rds-iam policy --instance mydb --user app

${EXIT_CODES_HELP}
`;
}

/**
 * Runs `rds-iam` with `argv` (without `node` and the script) and resolves to the exit code. Never
 * throws: errors are printed as one line on stderr (and as JSON on stdout with `--json`), with any
 * token text redacted.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write(topic ? topic.help : mainHelp());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`${version()}\n`);
    return EXIT.OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  const json = own.includes('--json');
  const prefix = command ? `rds-iam ${command.name}` : 'rds-iam';
  try {
    if (!command) {
      const names = COMMANDS.map((c) => c.name);
      const shown = name.slice(0, 30);
      if (name.startsWith('-')) {
        const near = closest(name, ['--help', '--version']);
        throw new UsageError(
          `unknown option '${shown}' before a command (${near ? `did you mean ${near}? ` : ''}commands: ${names.join(', ')})`,
        );
      }
      const near = closest(name, [...names, 'help', 'version']);
      throw new UsageError(
        `unknown command '${shown}' (${near ? `did you mean ${near}? ` : ''}commands: ${names.join(', ')})`,
      );
    }
    if (own.includes('--help') || own.includes('-h')) {
      io.stdout.write(command.help);
      return EXIT.OK;
    }
    return await command.run(rest, io);
  } catch (err) {
    const code = exitCodeOf(err);
    const message = messageOf(err);
    const hint = err instanceof UsageError ? ` (see ${prefix} --help)` : '';
    const style = styleFor(io.stderr, io.env);
    io.stderr.write(`${style.red(`${prefix}:`)} ${message}${hint}\n`);
    if (json) writeJson(io.stdout, { error: { code: errorCodeOf(err), message, exitCode: code } });
    return code;
  }
}

/** The real process's streams and environment. */
export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}
