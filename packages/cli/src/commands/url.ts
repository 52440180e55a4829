import { resolve } from 'node:path';
import {
  COMMON_OPTIONS,
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectionArgs,
  noExtraPositionals,
  parse,
} from '../args.js';
import { type Command, EXIT_CODES_HELP } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { writeJson } from '../io.js';
import { mintToken } from '../mint.js';

export const urlCommand: Command = {
  name: 'url',
  summary: 'print a connection URL with a fresh token (URL-encoded) and TLS on',
  help: `Usage: rds-iam url --engine postgres|mysql --host <host> --user <user> [options]

Prints a connection URL whose password is a fresh IAM auth token (URL-encoded), with TLS verification
on, for tools that take a URL (migration CLIs, the Prisma CLI, GUI clients). It is good for new
connections for 15 minutes.

  postgres://USER:TOKEN@HOST:PORT/DB?sslmode=verify-full[&sslrootcert=CA_FILE]
  mysql://USER:TOKEN@HOST:PORT/DB?ssl-mode=VERIFY_IDENTITY[&ssl-ca=CA_FILE]

Options:
${CONNECTION_HELP}
  --database <name>       database name in the URL path
  --ca-file <path>        CA bundle the client must trust (sslrootcert / ssl-ca). RDS: the global
                          bundle from https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
  --json                  {"url", "host", "port", "user", "database", "expiresAt"}
  --help                  this text

Examples:
  rds-iam url --engine postgres --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --user app \\
    --database orders --ca-file ./global-bundle.pem
  DATABASE_URL="$(rds-iam url --engine mysql --host "$DB_HOST" --user app --database app)" npx prisma migrate deploy

${EXIT_CODES_HELP}
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      ...COMMON_OPTIONS,
      ...CONNECTION_OPTIONS,
      database: { type: 'string' },
      'ca-file': { type: 'string' },
    });
    noExtraPositionals(positionals);
    if (values.engine === undefined) {
      throw new UsageError('--engine is required (postgres or mysql: it picks the URL scheme)');
    }
    const args = connectionArgs(values);
    const engine = args.engine!;
    const { token, expiresAt } = await mintToken(args);
    const caFile = values['ca-file'] === undefined ? undefined : resolve(values['ca-file']);
    const url = buildUrl(engine, args.host, args.port, args.user, token, values.database, caFile);
    if (values.json) {
      writeJson(io.stdout, {
        url,
        engine,
        host: args.host,
        port: args.port,
        user: args.user,
        database: values.database ?? null,
        expiresAt: expiresAt.toISOString(),
      });
    } else {
      io.stdout.write(`${url}\n`);
    }
    return EXIT.OK;
  },
};

/** The URL, with user, token and database percent-encoded. */
export function buildUrl(
  engine: 'postgres' | 'mysql',
  host: string,
  port: number,
  user: string,
  token: string,
  database: string | undefined,
  caFile: string | undefined,
): string {
  const h = host.includes(':') ? `[${host}]` : host;
  const path = database ? `/${encodeURIComponent(database)}` : '/';
  const query =
    engine === 'postgres'
      ? ['sslmode=verify-full', ...(caFile ? [`sslrootcert=${encodeURIComponent(caFile)}`] : [])]
      : ['ssl-mode=VERIFY_IDENTITY', ...(caFile ? [`ssl-ca=${encodeURIComponent(caFile)}`] : [])];
  return `${engine}://${encodeURIComponent(user)}:${encodeURIComponent(token)}@${h}:${port}${path}?${query.join('&')}`;
}
