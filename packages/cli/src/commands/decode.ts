import { parseAuthToken } from '@rds-iam/core';
import { COMMON_OPTIONS, noExtraPositionals, parse } from '../args.js';
import { type Command, EXIT_CODES_HELP } from '../command.js';
import { EXIT, UsageError } from '../errors.js';
import { readStdin, styleFor, writeJson } from '../io.js';
import { formatDuration, maskAccessKeyId } from '../mint.js';

/** Below this much time left, `decode` warns that the token is about to expire. */
const SOON_MS = 120_000;
/** RDS refuses tokens dated further ahead than this. */
const FUTURE_MS = 300_000;

export const decodeCommand: Command = {
  name: 'decode',
  summary: 'show what a token says: region, endpoint, user, key id, issued, expires, time left',
  help: `Usage: rds-iam decode <token | ->

Reads an IAM auth token (or a connection URL's URL-encoded password) and shows the region,
endpoint, user, access key id (masked), when it was issued, when it expires and the time left. It
never prints the signature or the session token. With "-" the token is read from stdin, which
keeps it out of the process list (an argument is visible to "ps").

Options:
  --json     {"region", "host", "port", "user", "accessKeyId", "issuedAt", "expiresAt", ...}
  --help     this text

Examples:
  rds-iam token --host mydb.abc123xyz.us-east-1.rds.amazonaws.com --port 5432 --user app | rds-iam decode -
  printf '%s' "$PGPASSWORD" | rds-iam decode - --json

Warns when the token is expired (exit code 1), about to expire (under 2 minutes, exit code 0) or
dated in the future (clock skew). A token also dies when the credentials that signed it expire;
the token does not say when that is.

${EXIT_CODES_HELP}
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, COMMON_OPTIONS);
    noExtraPositionals(positionals, 1);
    const source = positionals[0];
    if (source === undefined) {
      throw new UsageError("a token is required: rds-iam decode <token>, or '-' to read stdin");
    }
    const text =
      source === '-'
        ? await readStdin(io, 65_536, 'stdin holds more than 64 KiB: that is not a token')
        : source;
    if (text.trim() === '') throw new UsageError('the token is empty');
    const info = parseAuthToken(text.trim());
    const now = Date.now();
    const leftMs = info.expiresAt.getTime() - now;
    const expired = leftMs <= 0;
    const warnings: string[] = [];
    if (expired) {
      warnings.push(`the token expired ${formatDuration(-leftMs)} ago: mint a new one`);
    } else if (leftMs < SOON_MS) {
      warnings.push(`the token expires in ${formatDuration(leftMs)}: use it now or mint a new one`);
    }
    if (info.issuedAt.getTime() - now > FUTURE_MS) {
      warnings.push(
        `the token is dated ${formatDuration(info.issuedAt.getTime() - now)} in the future: RDS rejects it until then. Check the signing machine's clock`,
      );
    }
    if (info.service !== 'rds-db') {
      warnings.push(
        `the token is signed for service '${info.service}', not rds-db: RDS rejects it`,
      );
    }
    if (info.lifetimeSeconds > 900) {
      warnings.push(`X-Amz-Expires is ${info.lifetimeSeconds} s: RDS accepts at most 900`);
    }
    if (values.json) {
      writeJson(io.stdout, {
        region: info.region,
        host: info.host,
        port: info.port,
        user: info.user,
        service: info.service,
        accessKeyId: maskAccessKeyId(info.accessKeyId),
        temporaryCredentials: info.hasSessionToken,
        issuedAt: info.issuedAt.toISOString(),
        expiresAt: info.expiresAt.toISOString(),
        lifetimeSeconds: info.lifetimeSeconds,
        secondsLeft: Math.max(0, Math.floor(leftMs / 1000)),
        expired,
        warnings,
      });
    } else {
      const style = styleFor(io.stdout, io.env);
      const rows: [string, string][] = [
        ['region', info.region],
        ['endpoint', `${info.host}:${info.port}`],
        ['user', info.user],
        ['service', info.service],
        [
          'access key',
          `${maskAccessKeyId(info.accessKeyId)} (${info.hasSessionToken ? 'temporary credentials: session token present' : 'long-term key'})`,
        ],
        [
          'issued',
          `${info.issuedAt.toISOString()} (${formatDuration(now - info.issuedAt.getTime())} ago)`,
        ],
        ['expires', `${info.expiresAt.toISOString()} (lifetime ${info.lifetimeSeconds} s)`],
        [
          'time left',
          expired
            ? style.red('expired')
            : leftMs < SOON_MS
              ? style.yellow(formatDuration(leftMs))
              : style.green(formatDuration(leftMs)),
        ],
      ];
      for (const [key, value] of rows) io.stdout.write(`${style.bold(key.padEnd(11))} ${value}\n`);
      const errStyle = styleFor(io.stderr, io.env);
      for (const warning of warnings)
        io.stderr.write(`${errStyle.yellow('warning:')} ${warning}\n`);
    }
    return expired ? EXIT.FAILED : EXIT.OK;
  },
};
