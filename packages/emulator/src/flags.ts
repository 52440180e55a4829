import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { maskAccessKeyId } from '@rds-iam/core';
import { parsePolicyDocument, principalContext } from '@rds-iam/policy';
import type { CertificateAuthorityPem } from './certificate.js';
import type { EmulatorEngine, EmulatorLogin, EmulatorOptions } from './options.js';
import { DEMO_CREDENTIALS, type EmulatorCredentials, type EmulatorPrincipal } from './verify.js';

/**
 * The command-line flags of the emulator, one definition for both `rds-iam-emulator` and
 * `rds-iam emulator` (a `node:util` `parseArgs` options object).
 * @example
 * ```ts
 * const { values } = parseArgs({ args: process.argv.slice(2), options: EMULATOR_FLAGS, strict: true });
 * const flags = resolveEmulatorFlags(values);
 * ```
 */
export const EMULATOR_FLAGS = {
  engine: { type: 'string' },
  upstream: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  account: { type: 'string' },
  'resource-id': { type: 'string' },
  'policy-file': { type: 'string', multiple: true },
  'principal-arn': { type: 'string' },
  'principal-tag': { type: 'string', multiple: true },
  credentials: { type: 'string', multiple: true },
  'clock-offset': { type: 'string' },
  'no-tls-required': { type: 'boolean' },
  'allow-non-iam-users': { type: 'boolean' },
  'require-iam-grant': { type: 'boolean' },
  'ca-file': { type: 'string' },
  'ca-key-file': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * The help lines of {@link EMULATOR_FLAGS}, for both commands' `--help`.
 * @example
 * ```ts
 * console.log(`Usage: my-emulator [options]\n\nOptions:\n${EMULATOR_FLAGS_HELP}`);
 * ```
 */
export const EMULATOR_FLAGS_HELP = `  --engine <postgres|mysql>   wire protocol (mysql also for MariaDB; default postgres)
  --upstream <url>            the real server: postgres://[user[:password]@]host:port or mysql://...
                              (default postgres://127.0.0.1:5432 / mysql://127.0.0.1:3306)
  --host <address>            listen address (default 127.0.0.1)
  --port <n>                  listen port (default 0: any free port)
  --endpoint <host:port>      the RDS endpoint tokens must be signed for (default: listen address)
  --region <region>           region tokens must be signed for (default us-east-1)
  --account <id>              account id in the dbuser ARN policies are evaluated for
                              (default 123456789012)
  --resource-id <id>          resource id in that ARN (default db-EMULATOR0000000000000000)
  --policy-file <file>        an IAM policy the printed demo key must satisfy: logins it does not
                              allow are refused as RDS refuses them (repeat for several)
  --principal-arn <arn>       who the printed demo key belongs to (an IAM user, role or role session
                              ARN): aws:PrincipalArn, aws:username, ... in the policy's context
  --principal-tag <key=value> a tag of that principal: aws:PrincipalTag/key (repeat for several)
  --credentials <id,secret[,session-token[,expiration]][,principal=ARN][,tag:KEY=VALUE][,policy=FILE]>
                              accept this key too (repeat for several); expiration is ISO 8601;
                              principal, tags and policy files are this key's (each repeatable)
  --clock-offset <duration>   the emulator's clock runs this far ahead (ms, or 90s, 16m, 2h;
                              behind with --clock-offset=-16m)
  --no-tls-required           accept logins without TLS (RDS never does)
  --allow-non-iam-users       let in users RDS takes no token from. By default they are refused as
                              RDS refuses them: PostgreSQL users without GRANT rds_iam upstream;
                              MySQL / MariaDB users with a password instead of the IAM plugin (with
                              an upstream URL without password, as an IAM user has none)
  --require-iam-grant         (the default now; accepted and ignored)
  --ca-file <path>            where to write the CA certificate clients trust
                              (default: <tmpdir>/rds-iam-emulator-ca-<port>.pem)
  --ca-key-file <path>        keep the CA across restarts (needs --ca-file): if both files exist,
                              issue from that CA; otherwise write the new CA's private key here
                              (mode 0600; a test-only secret)
  --handshake-timeout <ms>    drop clients that take longer to log in (default 10000)
  -q, --quiet                 no line per login (by default one per login on stderr: the user,
                              accepted or the reason; never the token)
  --json                      print one line of JSON when ready instead of the text
  -h, --help                  this text`;

/** The values `parseArgs` gives for {@link EMULATOR_FLAGS}. */
export interface EmulatorFlagValues {
  engine?: string | undefined;
  upstream?: string | undefined;
  host?: string | undefined;
  port?: string | undefined;
  endpoint?: string | undefined;
  region?: string | undefined;
  account?: string | undefined;
  'resource-id'?: string | undefined;
  'policy-file'?: string[] | undefined;
  'principal-arn'?: string | undefined;
  'principal-tag'?: string[] | undefined;
  credentials?: string[] | undefined;
  'clock-offset'?: string | undefined;
  'no-tls-required'?: boolean | undefined;
  'allow-non-iam-users'?: boolean | undefined;
  'require-iam-grant'?: boolean | undefined;
  'ca-file'?: string | undefined;
  'ca-key-file'?: string | undefined;
  'handshake-timeout'?: string | undefined;
  quiet?: boolean | undefined;
  json?: boolean | undefined;
}

/**
 * A flag with a bad value: both commands print it as a usage error (exit code 2).
 * @example
 * ```ts
 * try { resolveEmulatorFlags(values); } catch (err) { if (err instanceof EmulatorUsageError) process.exitCode = 2; }
 * ```
 */
export class EmulatorUsageError extends Error {
  override readonly name = 'EmulatorUsageError';
}

/**
 * What the flags ask for: the options of `startEmulator` (without `onLogin`) and what the command
 * does around it.
 */
export interface ResolvedEmulatorFlags {
  readonly options: Omit<EmulatorOptions, 'onLogin'> & {
    readonly engine: EmulatorEngine;
    readonly upstream: string;
    readonly requireTls: boolean;
  };
  /** The key the command prints for people to use: the demo key, with `--policy-file` policies. */
  readonly printedCredentials: EmulatorCredentials;
  /** `--ca-file`, resolved. */
  readonly caFile: string | undefined;
  /** `--ca-key-file`, resolved. */
  readonly caKeyFile: string | undefined;
  /** True when the CA was read from `--ca-file` / `--ca-key-file` (else a new one is written there). */
  readonly caReused: boolean;
  readonly quiet: boolean;
  readonly json: boolean;
}

/**
 * Validates the flags and turns them into `startEmulator` options. Reads `--policy-file` and an
 * existing CA; throws {@link EmulatorUsageError} (bad value, unreadable file) or the
 * `ERR_POLICY_*` error (malformed policy) before anything listens.
 * @example
 * ```ts
 * const flags = resolveEmulatorFlags({ engine: 'mysql', account: '210987654321' });
 * const emulator = await startEmulator(flags.options);
 * ```
 */
export function resolveEmulatorFlags(values: EmulatorFlagValues): ResolvedEmulatorFlags {
  const engine = engineFlag(values.engine);
  const upstream =
    values.upstream ??
    (engine === 'postgres' ? 'postgres://127.0.0.1:5432' : 'mysql://127.0.0.1:3306');
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!/^\d+$/.test(values.port ?? '0') || port > 65535) {
    throw new EmulatorUsageError(`--port ${values.port}: expected 0-65535`);
  }
  const handshakeTimeoutMs =
    values['handshake-timeout'] === undefined ? undefined : Number(values['handshake-timeout']);
  if (handshakeTimeoutMs !== undefined && !(handshakeTimeoutMs > 0)) {
    throw new EmulatorUsageError(
      `--handshake-timeout ${values['handshake-timeout']}: expected ms > 0`,
    );
  }
  if (values.region !== undefined && !/^[a-z]{2,4}(-[a-z0-9]+)+-\d{1,2}$/.test(values.region)) {
    throw new EmulatorUsageError(`--region ${values.region}: expected a region such as us-east-1`);
  }
  const account = values.account?.trim().replaceAll('-', '');
  if (account !== undefined && !/^\d{12}$/.test(account)) {
    throw new EmulatorUsageError(`--account ${values.account}: expected a 12-digit account id`);
  }
  const resourceId = values['resource-id']?.trim();
  if (resourceId !== undefined && !/^(?:db|cluster|prx)-[A-Za-z0-9]+$/.test(resourceId)) {
    throw new EmulatorUsageError(
      `--resource-id ${resourceId}: expected db-XXXX, cluster-XXXX or prx-XXXX (not the instance name)`,
    );
  }
  const policies = (values['policy-file'] ?? []).map((path) => readPolicy(path));
  const principal = principalFlags(
    values['principal-arn'],
    (values['principal-tag'] ?? []).map((t) => tagFlag(t, '--principal-tag')),
  );
  const printedCredentials: EmulatorCredentials = {
    ...DEMO_CREDENTIALS,
    ...(policies.length > 0 ? { policies } : {}),
    ...(principal ? { principal } : {}),
  };
  const extra = (values.credentials ?? []).map(credentialsFlag);
  const clockOffsetMs =
    values['clock-offset'] === undefined ? undefined : durationFlag(values['clock-offset']);

  const caFile = values['ca-file'] === undefined ? undefined : resolve(values['ca-file']);
  const caKeyFile =
    values['ca-key-file'] === undefined ? undefined : resolve(values['ca-key-file']);
  let certificateAuthority: CertificateAuthorityPem | undefined;
  if (caKeyFile !== undefined) {
    if (caFile === undefined) {
      throw new EmulatorUsageError(
        '--ca-key-file needs --ca-file (the CA certificate it belongs to)',
      );
    }
    if (existsSync(caFile) && existsSync(caKeyFile)) {
      certificateAuthority = {
        certPem: readText(caFile, '--ca-file'),
        keyPem: readText(caKeyFile, '--ca-key-file'),
      };
    }
  }
  return {
    options: {
      engine,
      upstream,
      port,
      requireTls: !values['no-tls-required'],
      ...(values['allow-non-iam-users'] ? { allowNonIamUsers: true } : {}),
      credentials: [printedCredentials, ...extra],
      ...(values.host !== undefined ? { host: values.host } : {}),
      ...(values.endpoint !== undefined ? { endpoint: endpointFlag(values.endpoint) } : {}),
      ...(values.region !== undefined ? { region: values.region } : {}),
      ...(account !== undefined ? { accountId: account } : {}),
      ...(resourceId !== undefined ? { resourceId } : {}),
      ...(clockOffsetMs !== undefined ? { clockOffsetMs } : {}),
      ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
      ...(certificateAuthority !== undefined ? { certificateAuthority } : {}),
    },
    printedCredentials,
    caFile,
    caKeyFile,
    caReused: certificateAuthority !== undefined,
    quiet: values.quiet === true,
    json: values.json === true,
  };
}

/**
 * One line for one login: time, user, `accepted` (with the masked key) or `refused` with the reason
 * and its detail. Never the token: the verdict holds none.
 * @example
 * ```ts
 * startEmulator({ ...options, onLogin: (l) => process.stderr.write(`${formatLogin(l)}\n`) });
 * // 2026-01-01T00:00:00.000Z login app: refused, not-authorized (implicit-deny for rds-db:connect on ...)
 * ```
 */
export function formatLogin(login: EmulatorLogin, at: Date = new Date()): string {
  const head = `${at.toISOString()} login ${login.user}:`;
  return login.accepted
    ? `${head} accepted (key ${maskAccessKeyId(login.accessKeyId)})`
    : `${head} refused, ${login.reason} (${login.detail})`;
}

/** Removes a password from a URL for printing. */
export function redactUpstream(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function engineFlag(value: string | undefined): EmulatorEngine {
  const name = (value ?? 'postgres').trim().toLowerCase();
  if (['postgres', 'postgresql', 'pg', 'aurora-postgresql'].includes(name)) return 'postgres';
  if (['mysql', 'mariadb', 'aurora-mysql'].includes(name)) return 'mysql';
  throw new EmulatorUsageError(`--engine must be postgres or mysql (got '${value}')`);
}

function endpointFlag(value: string): { host: string; port?: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(value.trim());
  if (!m?.[1] || /^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim())) {
    throw new EmulatorUsageError(`--endpoint ${value}: expected host:port`);
  }
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && !(port >= 1 && port <= 65535)) {
    throw new EmulatorUsageError(`--endpoint ${value}: the port must be 1-65535`);
  }
  return port === undefined ? { host: m[1] } : { host: m[1], port };
}

function credentialsFlag(value: string): EmulatorCredentials {
  const fields = value.split(',').map((p) => p.trim());
  // Named fields (principal=, tag:, policy=) may follow the positional ones, in any order.
  const named = (f: string) => /^(principal=|tag:|policy=)/.test(f);
  const [accessKeyId, secretAccessKey, sessionToken, expiration] = fields.filter((f) => !named(f));
  const arns = fields.filter((f) => f.startsWith('principal=')).map((f) => f.slice(10));
  const tags = fields
    .filter((f) => f.startsWith('tag:'))
    .map((f) => tagFlag(f.slice(4), '--credentials tag:'));
  const policies = fields.filter((f) => f.startsWith('policy=')).map((f) => readPolicy(f.slice(7)));
  if (arns.length > 1) throw new EmulatorUsageError('--credentials: one principal= per key');
  const principal = principalFlags(arns[0], tags);
  if (!accessKeyId || !secretAccessKey || !/^[A-Z0-9]{16,128}$/.test(accessKeyId)) {
    throw new EmulatorUsageError(
      `--credentials ${accessKeyId ? `${maskAccessKeyId(accessKeyId)},...` : '(empty)'}: expected ACCESS_KEY_ID,SECRET[,SESSION_TOKEN[,EXPIRATION]]`,
    );
  }
  const expires = expiration ? new Date(expiration) : undefined;
  if (expires !== undefined && Number.isNaN(expires.getTime())) {
    throw new EmulatorUsageError(
      `--credentials ${maskAccessKeyId(accessKeyId)}: expiration '${expiration}' is not an ISO 8601 date`,
    );
  }
  return {
    accessKeyId,
    secretAccessKey,
    ...(sessionToken ? { sessionToken } : {}),
    ...(expires ? { expiration: expires } : {}),
    ...(policies.length > 0 ? { policies } : {}),
    ...(principal ? { principal } : {}),
  };
}

function tagFlag(value: string, flag: string): [string, string] {
  const at = value.indexOf('=');
  if (at <= 0) throw new EmulatorUsageError(`${flag} ${value}: expected KEY=VALUE`);
  return [value.slice(0, at), value.slice(at + 1)];
}

/** A principal from its flags; tags without an ARN are refused (a tag belongs to an identity). */
function principalFlags(
  arn: string | undefined,
  tags: [string, string][],
): EmulatorPrincipal | undefined {
  if (arn === undefined) {
    if (tags.length > 0) {
      throw new EmulatorUsageError('a principal tag needs the principal: --principal-arn <arn>');
    }
    return undefined;
  }
  const principal = { arn, ...(tags.length > 0 ? { tags: Object.fromEntries(tags) } : {}) };
  try {
    principalContext(principal.arn, principal.tags);
  } catch (err) {
    throw new EmulatorUsageError(err instanceof Error ? err.message : String(err));
  }
  return principal;
}

const UNITS: Record<string, number> = { '': 1, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

function durationFlag(value: string): number {
  const m = /^([+-]?\d+)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) {
    throw new EmulatorUsageError(
      `--clock-offset ${value}: expected a duration such as 900000, 16m or -2h`,
    );
  }
  return Number(m[1]) * (UNITS[m[2] ?? ''] ?? 1);
}

function readPolicy(path: string): string {
  const text = readText(path, '--policy-file');
  parsePolicyDocument(text, { name: `--policy-file ${path}` });
  return text;
}

function readText(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new EmulatorUsageError(
      `cannot read ${flag} ${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
