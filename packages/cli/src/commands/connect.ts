import { execFile, spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { rdsCaCertificates } from '@rds-iam/core';
import {
  COMMON_OPTIONS,
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectionArgs,
  engineOption,
  parse,
} from '../args.js';
import { type Command, EXIT_CODES_HELP } from '../command.js';
import { CliError, EXIT, messageOf, UsageError } from '../errors.js';
import { mintToken } from '../mint.js';

type Client = 'psql' | 'mysql' | 'mariadb';
const CLIENTS: readonly Client[] = ['psql', 'mysql', 'mariadb'];

export const connectCommand: Command = {
  name: 'connect',
  summary: 'run psql, mysql or mariadb with a fresh token, TLS verified, the token never in argv',
  help: `Usage: rds-iam connect psql|mysql|mariadb --host <host> --user <user> [options] [-- <client args>]

Mints a token and runs the native client with it, with TLS verified against the RDS CA bundle (or
--ca-file). The token never appears on the command line, where "ps" would show it:
  psql            PGPASSWORD in the client's environment; "sslmode=verify-full sslrootcert=<CA>"
  mysql, mariadb  a temporary option file (--defaults-extra-file, mode 0600, deleted when the client
                  exits) holding the password; --ssl-ca=<CA> and --ssl-verify-server-cert (MariaDB
                  client) or --ssl-mode=VERIFY_IDENTITY --enable-cleartext-plugin (MySQL client)
The RDS CA bundle is written to a private temporary directory and deleted afterwards. Everything
after "--" goes to the client as is. The client's exit code is passed through.

Options:
${CONNECTION_HELP}
  --database <name>       database to open
  --ca-file <path>        trust this CA instead of the RDS bundle (the emulator's, a proxy's)
  --client-path <path>    run this executable instead of the client found on PATH
  --json                  rds-iam's own errors as JSON (the client's output is the client's)
  --help                  this text

Examples:
  rds-iam connect psql --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --user app --database orders
  rds-iam connect mysql --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --user app -- -e 'select 1'
  rds-iam connect psql --host 127.0.0.1 --port 15432 --user app --ca-file ./emulator-ca.pem -- -c 'select 1'

A token is good for logins within 15 minutes: psql's \\connect after that needs a new rds-iam connect.

${EXIT_CODES_HELP}
`,
  async run(argv, io) {
    const split = argv.indexOf('--');
    const own = split < 0 ? argv : argv.slice(0, split);
    const clientArgs = split < 0 ? [] : argv.slice(split + 1);
    const { values, positionals } = parse(own, {
      ...COMMON_OPTIONS,
      ...CONNECTION_OPTIONS,
      database: { type: 'string' },
      'ca-file': { type: 'string' },
      'client-path': { type: 'string' },
    });
    const client = positionals[0] as Client | undefined;
    if (client === undefined)
      throw new UsageError('which client? rds-iam connect psql|mysql|mariadb ...');
    if (!CLIENTS.includes(client)) {
      throw new UsageError(`unknown client '${client.slice(0, 30)}': use psql, mysql or mariadb`);
    }
    if (positionals.length > 1) {
      throw new UsageError(
        `unexpected argument '${String(positionals[1]).slice(0, 40)}' (client arguments go after --)`,
      );
    }
    const engine = client === 'psql' ? 'postgres' : 'mysql';
    const given = engineOption(values.engine);
    if (given !== undefined && given !== engine) {
      throw new UsageError(`--engine ${values.engine} does not match the ${client} client`);
    }
    const args = connectionArgs(values, engine);
    const executable = values['client-path'] ?? client;
    const caFileGiven = values['ca-file'] === undefined ? undefined : resolve(values['ca-file']);

    const { token } = await mintToken(args);

    // A private directory (mkdtemp makes it 0700) for the CA bundle and the MySQL option file.
    const dir = mkdtempSync(join(tmpdir(), 'rds-iam-connect-'));
    const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
    process.once('exit', cleanup);
    try {
      let caFile = caFileGiven;
      if (caFile === undefined) {
        caFile = join(dir, 'rds-ca-bundle.pem');
        writeFileSync(caFile, rdsCaCertificates().join(''), { mode: 0o600 });
      }
      const env: NodeJS.ProcessEnv = { ...io.env };
      let command: string[];
      if (engine === 'postgres') {
        env.PGPASSWORD = token;
        const conninfo: [string, string][] = [];
        // libpq checks the certificate against `host`; when dialling a tunnel or an IP for a named RDS
        // endpoint, name the endpoint in `host` and dial the address with `hostaddr`.
        if (args.signingHost !== args.host && isIP(args.signingHost) === 0) {
          conninfo.push(['host', args.signingHost], ['hostaddr', await addressOf(args.host)]);
        } else {
          conninfo.push(['host', args.host]);
        }
        conninfo.push(['port', String(args.port)], ['user', args.user]);
        if (values.database) conninfo.push(['dbname', values.database]);
        conninfo.push(['sslmode', 'verify-full'], ['sslrootcert', caFile]);
        command = [conninfo.map(([k, v]) => `${k}=${quoteConninfo(v)}`).join(' '), ...clientArgs];
      } else {
        delete env.MYSQL_PWD;
        const optionFile = join(dir, 'client.cnf');
        writeFileSync(optionFile, `[client]\npassword="${token}"\n`, { mode: 0o600 });
        const flavour = await clientFlavour(executable);
        command = [
          // Must come first: the client reads option files before anything else.
          `--defaults-extra-file=${optionFile}`,
          `--host=${args.host}`,
          `--port=${args.port}`,
          `--user=${args.user}`,
          '--protocol=TCP',
          `--ssl-ca=${caFile}`,
          ...(flavour === 'mariadb'
            ? // MariaDB's client always allows the cleartext plugin (the flag is obsolete there).
              ['--ssl', '--ssl-verify-server-cert']
            : ['--ssl-mode=VERIFY_IDENTITY', '--enable-cleartext-plugin']),
          ...(values.database ? [`--database=${values.database}`] : []),
          ...clientArgs,
        ];
      }
      return await runClient(executable, command, env, client);
    } finally {
      cleanup();
      process.off('exit', cleanup);
    }
  },
};

/** Quotes a libpq conninfo value when it needs it. */
export function quoteConninfo(value: string): string {
  return /^[^\s'\\]+$/.test(value) ? value : `'${value.replace(/[\\']/g, '\\$&')}'`;
}

async function addressOf(host: string): Promise<string> {
  if (isIP(host)) return host;
  try {
    return (await lookup(host)).address;
  } catch (err) {
    throw new CliError(`cannot resolve --host ${host}: ${messageOf(err)}`, EXIT.FAILED, 'ERR_DNS');
  }
}

/** Whether a `mysql`-named client is MariaDB's or Oracle's: their TLS flags differ. */
function clientFlavour(executable: string): Promise<'mariadb' | 'mysql'> {
  return new Promise((done) => {
    execFile(executable, ['--version'], { timeout: 5_000 }, (err, stdout) => {
      if (err) {
        done('mariadb'); // spawning will report a missing client properly
        return;
      }
      done(/mariadb/i.test(stdout) ? 'mariadb' : 'mysql');
    });
  });
}

const INSTALL_HINTS: Record<Client, string> = {
  psql: 'install the PostgreSQL client (apt-get install postgresql-client, brew install libpq)',
  mysql: 'install a MySQL client (apt-get install default-mysql-client, brew install mysql-client)',
  mariadb: 'install the MariaDB client (apt-get install mariadb-client, brew install mariadb)',
};

function runClient(
  executable: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  client: Client,
): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(executable, args, { stdio: 'inherit', env });
    // Ctrl-C reaches the whole foreground process group: the client cancels its query, and this
    // process must stay alive to remove the temporary files when the client exits.
    const ignore = (): void => {};
    const forward = (signal: NodeJS.Signals) => (): void => {
      child.kill(signal);
    };
    const onTerm = forward('SIGTERM');
    const onHup = forward('SIGHUP');
    process.on('SIGINT', ignore);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
    const detach = (): void => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      detach();
      if (err.code === 'ENOENT') {
        fail(
          new CliError(
            `${executable} not found: ${INSTALL_HINTS[client]}, or pass --client-path`,
            EXIT.CLIENT_NOT_FOUND,
            'ERR_CLIENT_NOT_FOUND',
          ),
        );
      } else {
        fail(
          new CliError(`could not run ${executable}: ${messageOf(err)}`, EXIT.FAILED, 'ERR_CLIENT'),
        );
      }
    });
    child.once('exit', (code, signal) => {
      detach();
      if (signal) {
        done(128 + (constants.signals[signal] ?? 1));
      } else {
        done(code ?? EXIT.FAILED);
      }
    });
  });
}
