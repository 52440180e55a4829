import {
  formatLogEntry,
  type HealthServer,
  type LocalProxy,
  type LocalProxyOptions,
  startHealthServer,
  startLocalProxy,
} from '@rds-iam/proxy';
import {
  COMMON_OPTIONS,
  CONNECTION_HELP,
  msOption,
  noExtraPositionals,
  parse,
  targetHelp,
} from '../args.js';
import { type Command, EXIT_CODES_HELP } from '../command.js';
import { CliError, EXIT, messageOf, UsageError } from '../errors.js';
import { styleFor, writeJson } from '../io.js';
import { listenAddress } from '../targets.js';
import { checkTargets } from './proxy-check.js';
import { PROXY_OPTIONS, proxyTargets } from './proxy-targets.js';

export const proxyCommand: Command = {
  name: 'proxy',
  summary:
    'a local IAM proxy: psql, pg_dump, mysqldump, Prisma migrate and GUIs log in without a token',
  help: `Usage: rds-iam proxy --engine postgres|mysql --host <endpoint> --user <user> [--listen HOST:PORT | --listen-socket DIR] [options]
       rds-iam proxy --target URL [--target URL ...] [options]

Runs a local IAM proxy in the foreground. Local clients log in to it with the protocol's ordinary
login (any password, no TLS on loopback); for each, the proxy logs in to the RDS endpoint as --user
with a fresh IAM token from its cache, over TLS verified against the RDS CAs of the endpoint's
region, retries a rejected token once, and relays the session unparsed. Listens on loopback (or a
Unix socket, mode 0600) unless --allow-non-loopback is given with --local-password-env.
Stops on Ctrl-C / SIGTERM: no new sessions, open ones get --shutdown-timeout to finish.

Options:
${CONNECTION_HELP}
${targetHelp(30_000)}
  --listen <host:port>    where clients connect (default 127.0.0.1:5432 / 127.0.0.1:3306; port 0: any)
  --listen-socket <dir>   a Unix socket instead: DIR/.s.PGSQL.5432 (psql -h DIR), DIR/mysql-3306.sock
  --allow-non-loopback    listen on another address (a sidecar); needs --local-password-env
  --local-password-env <v>  the local password clients must present, read from this variable
  --handshake-timeout <ms>  bound on a local client's own login (default 10000)
  --shutdown-timeout <ms>  how long open sessions get at stop (default 10000)
  --health <host:port>    serve /healthz, /readyz and /metrics (Prometheus) here
  --check                 first run rds-iam doctor's checks against every target (report on
                          stderr); when one fails, exit 1 without listening (a sidecar that
                          cannot log in stops at start-up and says why)
  --json                  log lines as JSON on stderr, and one JSON line per target on stdout

Examples:
  rds-iam proxy --engine mysql --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --user app --listen 127.0.0.1:3307
  DATABASE_URL="mysql://app@127.0.0.1:3307/shop" npx prisma migrate deploy
  rds-iam proxy --engine postgres --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --user app --listen-socket /tmp/rds
  pg_dump -h /tmp/rds -U app shop > shop.sql
  rds-iam proxy --target 'postgres://app@pg.abc.eu-west-1.rds.amazonaws.com/shop?listen=127.0.0.1:6543' \\
                --target 'mysql://app@my.abc.eu-west-1.rds.amazonaws.com/shop?listen=127.0.0.1:3307' --health 127.0.0.1:9187

${EXIT_CODES_HELP}
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, ...PROXY_OPTIONS });
    noExtraPositionals(positionals);
    const targets = proxyTargets(values, io.env);
    const shutdownMs = msOption(values['shutdown-timeout'], 'shutdown-timeout', 10_000);
    const health = values.health === undefined ? undefined : listenAddress(values.health, 'health');
    const json = values.json === true;
    const onLog: LocalProxyOptions['onLog'] = (entry) =>
      io.stderr.write(`${formatLogEntry(entry, json)}\n`);
    const options = targets.map((t): LocalProxyOptions => ({ ...t.options, onLog }));
    if (values.check) await checkTargets(targets, io, json);

    const proxies: LocalProxy[] = [];
    let healthServer: HealthServer | undefined;
    const stopAll = async (): Promise<void> => {
      await healthServer?.close();
      await Promise.all(proxies.map((p) => p.close({ timeoutMs: shutdownMs })));
    };
    try {
      for (const o of options) proxies.push(await startLocalProxy(o));
      if (health) healthServer = await startHealthServer(health, proxies);
    } catch (err) {
      await stopAll();
      const code = (err as { code?: string }).code;
      if (code === 'ERR_INVALID_OPTION') throw new UsageError(messageOf(err));
      throw new CliError(
        `could not start the proxy: ${messageOf(err)}`,
        EXIT.FAILED,
        code ?? 'ERR_PROXY',
      );
    }
    const stopped = new Promise<void>((done) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        stopAll().then(done, done);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });

    const s = styleFor(io.stdout, io.env);
    for (const p of proxies) {
      const listen = 'path' in p.address ? p.address.path : `${p.address.host}:${p.address.port}`;
      if (json) {
        writeJson(io.stdout, {
          event: 'ready',
          engine: p.engine,
          listen,
          url: p.url(),
          target: p.target,
        });
        continue;
      }
      io.stdout.write(
        `${s.bold(`rds-iam proxy (${p.engine}) listening on ${listen}`)} -> ${p.target} (IAM token, TLS verified)\n  ${s.cyan(clientHint(p))}\n`,
      );
    }
    if (!json) {
      if (healthServer) {
        io.stdout.write(
          `  health     http://${healthServer.host}:${healthServer.port}/healthz, /readyz, /metrics\n`,
        );
      }
      io.stdout.write('One line per login and session on stderr. Ctrl-C to stop.\n');
    } else if (healthServer) {
      writeJson(io.stdout, {
        event: 'health',
        url: `http://${healthServer.host}:${healthServer.port}`,
      });
    }
    await stopped;
    return EXIT.OK;
  },
};

/** How a user points the usual client at the proxy. */
function clientHint(p: LocalProxy): string {
  if (p.engine === 'postgres') {
    if ('path' in p.address) {
      const dir = p.address.path.replace(/\/\.s\.PGSQL\.\d+$/, '');
      const port = /\.s\.PGSQL\.(\d+)$/.exec(p.address.path)?.[1] ?? '5432';
      return `psql -h ${dir} -p ${port} -U ${p.target.split('@')[0]}`;
    }
    return `psql "${p.url()}"`;
  }
  if ('path' in p.address) return `mysql --socket=${p.address.path} -u ${p.target.split('@')[0]}`;
  return `DATABASE_URL="${p.url()}"   # or: mysql -h ${p.address.host} -P ${p.address.port} -u ${p.target.split('@')[0]}`;
}
