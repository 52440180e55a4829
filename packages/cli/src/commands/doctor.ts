import { parseRdsEndpoint } from '@rds-iam/core';
import {
  COMMON_OPTIONS,
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectionArgs,
  msOption,
  noExtraPositionals,
  parse,
} from '../args.js';
import { type Command, EXIT_CODES_HELP } from '../command.js';
import { authorizationCheck } from '../doctor/authorization.js';
import type { Check } from '../doctor/check.js';
import { clockCheck } from '../doctor/clock.js';
import { dnsCheck } from '../doctor/dns.js';
import { endpointCheck } from '../doctor/endpoint.js';
import { probeChecks } from '../doctor/probe.js';
import { reporter } from '../doctor/report.js';
import { trustedCas } from '../doctor/tls.js';
import { mintChecks } from '../doctor/token.js';
import { UsageError } from '../errors.js';
import { readPolicyFiles } from '../policy-files.js';
import { probeMysql } from '../probe/mysql.js';
import { probePostgres } from '../probe/postgres.js';
import { CONTEXT_HELP, CONTEXT_OPTIONS, requestContextOf } from '../request-context.js';
import { accountOption, resourceIdOption } from './policy-target.js';

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check an IAM login step by step and explain what fails',
  help: `Usage: rds-iam doctor --host <host> --user <user> [--engine <engine>] [--port <port>] [options]

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
  --database <name>       database to log in to (PostgreSQL default: postgres)
  --ca-file <path>        trust this CA instead of the RDS bundle (the emulator's, a proxy's)
  --timeout <ms>          per network step (default 5000)
  --resource-id <id>      the database's resource id (db-..., cluster-..., prx-...): check the IAM policy
  --account <id>          the database's account id (default with the simulator: the caller's)
  --policy-file <file>    evaluate this identity policy locally instead of asking IAM (repeatable)
The request context of the authorization check (used locally and passed to IAM's simulator):
${CONTEXT_HELP}
  --json                  {"ok", "checks": [{"id", "status", "detail", "fix", "causes"}], ...}
  --help                  this text

Examples:
  rds-iam doctor --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --engine postgres --user app
  rds-iam doctor --host localhost --port 15432 --engine mysql --user app \\
    --signing-host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --signing-port 3306
  rds-iam doctor --host mydb.abc123xyz.eu-west-1.rds.amazonaws.com --engine postgres --user app \\
    --resource-id db-ABCDEFGHIJKL01234 --account 123456789012 --policy-file policy.json

Exit code 0 when every check passes (warnings allowed), 1 when one fails.

${EXIT_CODES_HELP}
`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      ...COMMON_OPTIONS,
      ...CONNECTION_OPTIONS,
      database: { type: 'string' },
      'ca-file': { type: 'string' },
      timeout: { type: 'string' },
      'resource-id': { type: 'string' },
      account: { type: 'string' },
      'policy-file': { type: 'string', multiple: true },
      ...CONTEXT_OPTIONS,
    });
    noExtraPositionals(positionals);
    const args = connectionArgs(values);
    const resourceId = resourceIdOption(values['resource-id']);
    const account = accountOption(values.account);
    const policyPaths = values['policy-file'] ?? [];
    if (policyPaths.length > 0 && (resourceId === undefined || account === undefined)) {
      throw new UsageError(
        '--policy-file needs --resource-id and --account (the dbuser ARN the policy must allow)',
      );
    }
    if (resourceId === undefined && account !== undefined) {
      throw new UsageError('--account needs --resource-id (the dbuser ARN to check)');
    }
    // A malformed --context is bad input: refused before any network call.
    requestContextOf(values, args.region ?? '');
    const policies = policyPaths.length > 0 ? await readPolicyFiles(policyPaths, io) : undefined;
    const engine = args.engine;
    if (engine === undefined) {
      throw new UsageError(`--engine is required with --port ${args.port} (postgres or mysql)`);
    }
    const timeoutMs = msOption(values.timeout, 'timeout', 5_000);
    const { ca, caName } = trustedCas(values['ca-file']);
    const database = values.database ?? (engine === 'postgres' ? 'postgres' : undefined);
    const report = reporter(io, Boolean(values.json));
    report.header(
      `rds-iam doctor: ${args.user}@${args.host}:${args.port} (${engine})${args.signingOverridden ? `, signed for ${args.signingHost}:${args.signingPort}` : ''}`,
    );

    // 1. The endpoint name.
    const endpoint = parseRdsEndpoint(args.signingHost);
    const regionMismatch =
      endpoint !== undefined && args.region !== undefined && args.region !== endpoint.region;
    report.add(endpointCheck(args.signingHost, args.host, endpoint, args.region));

    // 2, 3. Credentials and a token.
    const { checks: mintResult, token, info, mintedAt } = await mintChecks(args, io);
    for (const check of mintResult) report.add(check);

    // 3b. May the caller connect as the user (the IAM policy)?
    let authorization: Check | undefined;
    const policyRegion = info?.region ?? args.region ?? endpoint?.region;
    if (resourceId !== undefined && policyRegion !== undefined) {
      authorization = await authorizationCheck({
        region: policyRegion,
        account,
        resourceId,
        user: args.user,
        policies,
        profile: args.profile,
        env: io.env,
        context: values,
      });
      report.add(authorization);
    } else if (resourceId !== undefined) {
      report.add({
        id: 'authorization',
        status: 'skip',
        detail: 'no region for the dbuser ARN: pass --region',
      });
    }

    // 4. The local clock.
    report.add(clockCheck(info, mintedAt));

    // 5. DNS.
    const dns = await dnsCheck(args.host, endpoint, timeoutMs);
    report.add(dns);
    const dnsOk = dns.status !== 'fail';

    // 6-9. TCP, TLS, login, server clock: one connection.
    if (!dnsOk) {
      for (const id of ['tcp', 'tls', 'login', 'server-clock'])
        report.add({ id, status: 'skip', detail: 'the host does not resolve' });
    } else {
      const probe = engine === 'postgres' ? probePostgres : probeMysql;
      const result = await probe({
        host: args.host,
        port: args.port,
        user: args.user,
        ...(database ? { database } : {}),
        tls: { ca, identity: args.signingHost },
        timeoutMs,
        ...(token ? { token } : {}),
      });
      for (const check of probeChecks(result, {
        engine,
        args,
        caName,
        info,
        endpoint,
        regionMismatch,
        tokenMinted: token !== undefined,
        authorization,
      })) {
        report.add(check);
      }
    }
    return report.finish({
      engine,
      host: args.host,
      port: args.port,
      user: args.user,
      signingHost: args.signingHost,
      signingPort: args.signingPort,
    });
  },
};
