import {
  COMMON_OPTIONS,
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectionArgs,
  noExtraPositionals,
  parse,
} from '../args.js';
import { type Command, EXIT_CODES_HELP } from '../command.js';
import { EXIT } from '../errors.js';
import { writeJson } from '../io.js';
import { mintToken } from '../mint.js';

export const tokenCommand: Command = {
  name: 'token',
  summary: 'print an IAM auth token (like aws rds generate-db-auth-token)',
  help: `Usage: rds-iam token --host <host> --user <user> [--port <port> | --engine <engine>] [options]

Prints an IAM auth token for the endpoint and user on stdout: the password for one login within
15 minutes. Signed locally with your AWS credentials (the SDK default chain, or --profile).

Options:
${CONNECTION_HELP}
  --json                  {"token", "host", "port", "user", "region", "issuedAt", "expiresAt"}
  --help                  this text

Examples:
  rds-iam token --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --port 5432 --user app
  PGPASSWORD="$(rds-iam token --host "$PGHOST" --engine postgres --user app)" psql ...
  # through an SSH tunnel on localhost:15432, signed for the real endpoint:
  rds-iam token --host localhost --port 15432 --user app \\
    --signing-host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --signing-port 5432

The token is a secret for 15 minutes: it is printed only on stdout, never in an error message.

${EXIT_CODES_HELP}
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, ...CONNECTION_OPTIONS });
    noExtraPositionals(positionals);
    const args = connectionArgs(values);
    const { token, info, expiresAt } = await mintToken(args);
    if (values.json) {
      writeJson(io.stdout, {
        token,
        host: info.host,
        port: info.port,
        user: info.user,
        region: info.region,
        issuedAt: info.issuedAt.toISOString(),
        expiresAt: expiresAt.toISOString(),
      });
    } else {
      io.stdout.write(`${token}\n`);
    }
    return EXIT.OK;
  },
};
