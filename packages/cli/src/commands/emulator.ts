import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  EMULATOR_FLAGS,
  EMULATOR_FLAGS_HELP,
  EmulatorUsageError,
  formatLogin,
  formatWarning,
  policyLines,
  type ResolvedEmulatorFlags,
  readyJson,
  redactUpstream,
  resolveEmulatorFlags,
  startEmulator,
} from '@rds-iam/emulator';
import { COMMON_OPTIONS, noExtraPositionals, parse } from '../args.js';
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
${EMULATOR_FLAGS_HELP}

Examples:
  rds-iam emulator --engine postgres --upstream postgres://127.0.0.1:5432 --port 15432
  # in another shell, after pasting the export lines it prints:
  rds-iam connect psql --host 127.0.0.1 --port 15432 --user app --ca-file /tmp/rds-iam-emulator-ca-15432.pem
  rds-iam doctor --engine postgres --host 127.0.0.1 --port 15432 --user app --ca-file /tmp/rds-iam-emulator-ca-15432.pem

  # refuse what the IAM policy would refuse on AWS, with the reason on stderr per login:
  rds-iam emulator --engine mysql --account 123456789012 --resource-id db-ABC --policy-file policy.json

The demo credentials are a fixed fake key pair, not an AWS credential. Without --policy-file the
emulator does not check IAM policies: the demo key may log in as any user that exists upstream.
With it, a login is evaluated for rds-db:connect on
arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER and refused exactly as RDS refuses it.

${EXIT_CODES_HELP}
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, ...EMULATOR_FLAGS });
    noExtraPositionals(positionals);
    if (values.engine === undefined)
      throw new UsageError('--engine is required (postgres or mysql)');
    let flags: ResolvedEmulatorFlags;
    try {
      flags = resolveEmulatorFlags(values);
    } catch (err) {
      if (err instanceof EmulatorUsageError) throw new UsageError(err.message);
      throw err;
    }
    const { engine, upstream, requireTls } = flags.options;
    const quietLogins = flags.quiet;
    let emulator: Awaited<ReturnType<typeof startEmulator>>;
    try {
      emulator = await startEmulator({
        ...flags.options,
        ...(quietLogins ? {} : { onLogin: (l) => io.stderr.write(`${formatLogin(l)}\n`) }),
        onWarning: (message) => io.stderr.write(`${formatWarning(message)}\n`),
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

    const caFile =
      flags.caFile ?? resolve(join(tmpdir(), `rds-iam-emulator-ca-${emulator.port}.pem`));
    try {
      writeFileSync(caFile, emulator.caPem, { mode: 0o644 });
      if (flags.caKeyFile !== undefined && !flags.caReused) {
        writeFileSync(flags.caKeyFile, emulator.certificateAuthority.keyPem, { mode: 0o600 });
      }
    } catch (err) {
      await emulator.stop();
      throw new CliError(
        `could not write the CA file ${caFile}: ${messageOf(err)}`,
        EXIT.FAILED,
        'ERR_CA_FILE',
      );
    }
    const where = `${emulator.endpoint.host}:${emulator.endpoint.port}`;
    const safeUpstream = redactUpstream(upstream);
    const key = flags.printedCredentials;
    if (values.json) {
      writeJson(io.stdout, readyJson(emulator, caFile, upstream, key, requireTls));
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
          ...policyLines(emulator, key),
          '',
          'Demo credentials it accepts (not a real AWS key); paste in another shell:',
          `  export AWS_ACCESS_KEY_ID=${key.accessKeyId}`,
          `  export AWS_SECRET_ACCESS_KEY=${key.secretAccessKey}`,
          `  export AWS_REGION=${emulator.region}`,
          '  unset AWS_SESSION_TOKEN AWS_PROFILE',
          '',
          engine === 'postgres'
            ? 'Then, for an IAM user upstream (CREATE USER u; GRANT rds_iam TO u; as on RDS):'
            : 'Then, for an IAM user upstream (a user without a password of its own, as on RDS):',
          s.cyan(
            `  rds-iam connect ${client} --host ${emulator.host} --port ${emulator.port} --user USER --ca-file ${caFile}${signing}`,
          ),
          s.cyan(
            `  rds-iam doctor --engine ${engine} --host ${emulator.host} --port ${emulator.port} --user USER --ca-file ${caFile}${signing}`,
          ),
          '',
          `One line per login on stderr${quietLogins ? ' is off (--quiet)' : ' (--quiet turns it off)'}. Ctrl-C to stop.`,
          '',
        ].join('\n'),
      );
    }
    await stopped;
    return EXIT.OK;
  },
};
