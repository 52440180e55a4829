import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEMO_CREDENTIALS, startEmulator } from '@rds-iam/emulator';
import {
  COMMON_OPTIONS,
  engineOption,
  hostOption,
  noExtraPositionals,
  parse,
  portOption,
  regionOption,
} from '../args.js';
import { type Command, EXIT_CODES_HELP } from '../command.js';
import { CliError, EXIT, messageOf, UsageError } from '../errors.js';
import { styleFor, writeJson } from '../io.js';

export const emulatorCommand: Command = {
  name: 'emulator',
  summary: 'run a local RDS IAM endpoint in front of a real PostgreSQL / MySQL server',
  help: `Usage: rds-iam emulator --engine postgres|mysql --upstream <url> [options]

Runs the rds-iam emulator in the foreground: a PostgreSQL or MySQL endpoint on loopback that checks
IAM auth tokens the way RDS does (signature, region, endpoint, user, time), then logs in to the
real upstream server as that user and relays the session. Prints the endpoint to sign tokens for,
the CA file clients must trust, and demo credentials it accepts. Stops on Ctrl-C / SIGTERM.

Options:
  --engine <engine>       postgres or mysql (MySQL and MariaDB)
  --upstream <url>        the real server: postgres://[user[:password]@]host:port or mysql://...
                          (default postgres://127.0.0.1:5432 / mysql://127.0.0.1:3306)
  --host <address>        listen address (default 127.0.0.1)
  --port <port>           listen port (default: any free port)
  --endpoint <host:port>  the RDS endpoint name tokens must be signed for (default: the listen address)
  --region <region>       the region tokens must be signed for (default us-east-1)
  --no-tls-required       accept logins without TLS (RDS never does)
  --ca-file <path>        where to write the CA certificate (default: in the temp directory)
  --json                  print one line of JSON when ready instead of the text
  --help                  this text

Examples:
  rds-iam emulator --engine postgres --upstream postgres://127.0.0.1:5432 --port 15432
  # in another shell, after pasting the export lines it prints:
  rds-iam connect psql --host 127.0.0.1 --port 15432 --user app --ca-file /tmp/rds-iam-emulator-ca-15432.pem
  rds-iam doctor --engine postgres --host 127.0.0.1 --port 15432 --user app --ca-file /tmp/rds-iam-emulator-ca-15432.pem

The demo credentials are a fixed fake key pair, not an AWS credential. The emulator does not check
IAM policies: any accepted key may log in as any user that exists upstream.

${EXIT_CODES_HELP}
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      ...COMMON_OPTIONS,
      engine: { type: 'string' },
      upstream: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      endpoint: { type: 'string' },
      region: { type: 'string' },
      'no-tls-required': { type: 'boolean' },
      'ca-file': { type: 'string' },
    });
    noExtraPositionals(positionals);
    if (values.engine === undefined)
      throw new UsageError('--engine is required (postgres or mysql)');
    const engine = engineOption(values.engine)!;
    const upstream =
      values.upstream ??
      (engine === 'postgres' ? 'postgres://127.0.0.1:5432' : 'mysql://127.0.0.1:3306');
    const host = hostOption(values.host) ?? '127.0.0.1';
    const port = values.port === '0' ? 0 : (portOption(values.port) ?? 0);
    const region = regionOption(values.region);
    const endpoint = values.endpoint === undefined ? undefined : endpointOption(values.endpoint);
    const requireTls = !values['no-tls-required'];

    let emulator: Awaited<ReturnType<typeof startEmulator>>;
    try {
      emulator = await startEmulator({
        engine,
        upstream,
        host,
        port,
        requireTls,
        ...(region ? { region } : {}),
        ...(endpoint ? { endpoint } : {}),
      });
    } catch (err) {
      if (err instanceof TypeError) throw new UsageError(messageOf(err));
      throw new CliError(
        `could not start the emulator: ${messageOf(err)}`,
        EXIT.FAILED,
        'ERR_EMULATOR',
      );
    }
    const stopped = new Promise<void>((done) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        emulator.stop().then(done, done);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });

    const caFile = resolve(
      values['ca-file'] ?? join(tmpdir(), `rds-iam-emulator-ca-${emulator.port}.pem`),
    );
    try {
      writeFileSync(caFile, emulator.caPem, { mode: 0o644 });
    } catch (err) {
      await emulator.stop();
      throw new CliError(
        `could not write the CA file ${caFile}: ${messageOf(err)}`,
        EXIT.FAILED,
        'ERR_CA_FILE',
      );
    }
    const where = `${emulator.endpoint.host}:${emulator.endpoint.port}`;
    const safeUpstream = upstream.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
    if (values.json) {
      writeJson(io.stdout, {
        engine,
        host: emulator.host,
        port: emulator.port,
        endpoint: emulator.endpoint,
        region: emulator.region,
        caFile,
        tlsRequired: requireTls,
        upstream: safeUpstream,
        credentials: {
          AWS_ACCESS_KEY_ID: DEMO_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: DEMO_CREDENTIALS.secretAccessKey,
          AWS_REGION: emulator.region,
        },
      });
    } else {
      const s = styleFor(io.stdout, io.env);
      const client = engine === 'postgres' ? 'psql' : 'mysql';
      const signing =
        emulator.endpoint.host === emulator.host && emulator.endpoint.port === emulator.port
          ? ''
          : ` --signing-host ${emulator.endpoint.host} --signing-port ${emulator.endpoint.port}`;
      io.stdout.write(
        [
          s.bold(`rds-iam emulator (${engine}) listening on ${emulator.host}:${emulator.port}`),
          `  upstream   ${safeUpstream}`,
          `  endpoint   ${where} in ${emulator.region} (tokens must be signed for this)`,
          `  TLS        ${requireTls ? 'required' : 'optional'}; CA file ${caFile}`,
          '',
          'Demo credentials it accepts (not a real AWS key); paste in another shell:',
          `  export AWS_ACCESS_KEY_ID=${DEMO_CREDENTIALS.accessKeyId}`,
          `  export AWS_SECRET_ACCESS_KEY=${DEMO_CREDENTIALS.secretAccessKey}`,
          `  export AWS_REGION=${emulator.region}`,
          '  unset AWS_SESSION_TOKEN AWS_PROFILE',
          '',
          'Then, for a user that exists upstream:',
          s.cyan(
            `  rds-iam connect ${client} --host ${emulator.host} --port ${emulator.port} --user USER --ca-file ${caFile}${signing}`,
          ),
          s.cyan(
            `  rds-iam doctor --engine ${engine} --host ${emulator.host} --port ${emulator.port} --user USER --ca-file ${caFile}${signing}`,
          ),
          '',
          'Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
    }
    await stopped;
    return EXIT.OK;
  },
};

function endpointOption(value: string): { host: string; port?: number } {
  const match = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(value.trim());
  const host = match?.[1];
  if (!host) throw new UsageError('--endpoint must be host or host:port');
  const name = hostOption(host, 'endpoint')!;
  const port = portOption(match?.[2], 'endpoint port');
  return port === undefined ? { host: name } : { host: name, port };
}
