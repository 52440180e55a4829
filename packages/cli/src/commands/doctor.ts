import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import {
  type AuthTokenInfo,
  type Engine,
  parseRdsEndpoint,
  type RdsEndpoint,
  RdsIamError,
  rdsCaCertificates,
} from '@rds-iam/core';
import {
  COMMON_OPTIONS,
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectionArgs,
  msOption,
  noExtraPositionals,
  parse,
} from '../args.js';
import { authorizationCheck } from '../authorization.js';
import { type Command, EXIT_CODES_HELP } from '../command.js';
import { EXIT, messageOf, UsageError } from '../errors.js';
import { type Io, styleFor, writeJson } from '../io.js';
import { describeCredentialSource, formatDuration, maskAccessKeyId, mintToken } from '../mint.js';
import { readPolicyFiles } from '../policy-files.js';
import type { LoginResult, ProbeResult, TlsResult } from '../probe/conn.js';
import { probeMysql } from '../probe/mysql.js';
import { probePostgres } from '../probe/postgres.js';
import { accountOption, resourceIdOption } from './policy-target.js';

/** One line of the checklist. */
export interface Check {
  id: string;
  status: 'pass' | 'fail' | 'warn' | 'skip';
  detail: string;
  fix?: string;
  causes?: string[];
}

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
    const policies = policyPaths.length > 0 ? await readPolicyFiles(policyPaths, io) : undefined;
    const engine = args.engine;
    if (engine === undefined) {
      throw new UsageError(`--engine is required with --port ${args.port} (postgres or mysql)`);
    }
    const timeoutMs = msOption(values.timeout, 'timeout', 5_000);
    let ca: string[];
    let caName: string;
    if (values['ca-file'] !== undefined) {
      try {
        ca = [readFileSync(values['ca-file'], 'utf8')];
      } catch (err) {
        throw new UsageError(`cannot read --ca-file ${values['ca-file']}: ${messageOf(err)}`);
      }
      caName = `--ca-file ${values['ca-file']}`;
    } else {
      ca = [...rdsCaCertificates()];
      caName = 'the RDS CA bundle';
    }
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
    let info: AuthTokenInfo | undefined;
    let token: string | undefined;
    let mintedAt = Date.now();
    const source = describeCredentialSource(io.env, args.profile);
    try {
      mintedAt = Date.now();
      const minted = await mintToken(args);
      token = minted.token;
      info = minted.info;
      const credentialsExpireFirst = minted.expiresAt.getTime() < info.expiresAt.getTime();
      report.add({
        id: 'credentials',
        status: credentialsExpireFirst ? 'warn' : 'pass',
        detail: `from ${source}; access key ${maskAccessKeyId(info.accessKeyId)}, ${info.hasSessionToken ? 'temporary (session token)' : 'long-term key'}${credentialsExpireFirst ? `; they expire at ${minted.expiresAt.toISOString()}, before the token would` : ''}`,
        ...(credentialsExpireFirst
          ? {
              fix: 'tokens die with the credentials that signed them: use credentials that can be refreshed (a role, SSO) or a longer session',
            }
          : {}),
      });
      const left = minted.expiresAt.getTime() - Date.now();
      report.add({
        id: 'token',
        status: 'pass',
        detail: `minted and decodes: ${info.user}@${info.host}:${info.port} in ${info.region}, service ${info.service}, valid ${formatDuration(left)} (until ${minted.expiresAt.toISOString()})`,
      });
    } catch (err) {
      const code = err instanceof RdsIamError ? err.code : undefined;
      const message = messageOf(err);
      if (code === 'ERR_CREDENTIALS') {
        const expired = /expire/i.test(message);
        report.add({
          id: 'credentials',
          status: 'fail',
          detail: `from ${source}: ${message}`,
          fix: expired
            ? 'the credentials are expired: refresh them (aws sso login, assume the role again, or export a new AWS_SESSION_TOKEN with AWS_CREDENTIAL_EXPIRATION), or unset the stale AWS_* variables'
            : 'give this process credentials: AWS_PROFILE (--profile), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or an instance / task / pod role',
        });
        report.add({ id: 'token', status: 'skip', detail: 'no credentials to sign with' });
      } else if (code === 'ERR_REGION_NOT_FOUND') {
        report.add({
          id: 'credentials',
          status: 'skip',
          detail: 'not resolved: no region to sign for',
        });
        report.add({
          id: 'token',
          status: 'fail',
          detail: message,
          fix: "pass --region (the database's region), or --signing-host with the RDS endpoint name",
        });
      } else {
        report.add({ id: 'credentials', status: 'skip', detail: `from ${source}; not confirmed` });
        report.add({ id: 'token', status: 'fail', detail: message });
      }
    }

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
    let dnsOk = true;
    if (isIP(args.host)) {
      report.add({
        id: 'dns',
        status: 'pass',
        detail: `${args.host} is an IP address (no lookup)`,
      });
    } else {
      try {
        const addresses = await withTimeout(
          lookup(args.host, { all: true }),
          timeoutMs,
          'DNS lookup',
        );
        const list = addresses.map((a) => a.address);
        const privateOnly = endpoint !== undefined && list.every(isPrivate);
        report.add({
          id: 'dns',
          status: 'pass',
          detail: `${args.host} -> ${list.join(', ')}${privateOnly ? ' (private addresses: reachable only from the VPC, a peered network or a VPN)' : ''}`,
        });
      } catch (err) {
        dnsOk = false;
        report.add({
          id: 'dns',
          status: 'fail',
          detail: `${args.host} does not resolve: ${messageOf(err)}`,
          fix: 'check the spelling (copy the endpoint from the RDS console); private hosted zones resolve only inside the VPC; a deleted or renamed instance loses its name',
        });
      }
    }

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

function endpointCheck(
  signingHost: string,
  host: string,
  endpoint: RdsEndpoint | undefined,
  region: string | undefined,
): Check {
  if (endpoint === undefined) {
    return {
      id: 'endpoint',
      status: 'pass',
      detail: `${signingHost} is not an RDS hostname (an IP, alias, tunnel or the emulator): the token names it as given and the region comes from ${region ? '--region' : 'AWS_REGION or the profile'}${signingHost === host ? '; through a tunnel or alias pass --signing-host <RDS endpoint>' : ''}`,
    };
  }
  const kinds: Record<string, string> = {
    instance: 'DB instance',
    cluster: 'Aurora cluster (writer) endpoint',
    'cluster-ro': 'Aurora reader endpoint (read-only)',
    'cluster-custom': 'Aurora custom endpoint',
    proxy: 'RDS Proxy endpoint',
    'proxy-endpoint': 'RDS Proxy additional endpoint',
    'shard-group': 'Aurora Limitless shard group',
  };
  const what = `${kinds[endpoint.kind] ?? endpoint.kind} '${endpoint.identifier}' in ${endpoint.region} (partition ${endpoint.partition})`;
  if (region !== undefined && region !== endpoint.region) {
    return {
      id: 'endpoint',
      status: 'fail',
      detail: `${what}, but --region is ${region}: the token would be signed for ${region} and RDS rejects it`,
      fix: `drop --region (the region comes from the hostname) or pass --region ${endpoint.region}`,
    };
  }
  return { id: 'endpoint', status: 'pass', detail: what };
}

/** The earliest plausible "now": anything before it means a clock reset (no RTC, dead battery). */
const PLAUSIBLE_AFTER = Date.UTC(2025, 0, 1);

function clockCheck(info: AuthTokenInfo | undefined, mintedAt: number): Check {
  const now = Date.now();
  if (now < PLAUSIBLE_AFTER) {
    return {
      id: 'clock',
      status: 'fail',
      detail: `this machine's clock reads ${new Date(now).toISOString()}, before this tool was built`,
      fix: 'set the clock (timedatectl set-ntp true, chronyc makestep): RDS rejects tokens dated more than 5 minutes off',
    };
  }
  if (info === undefined) {
    return {
      id: 'clock',
      status: 'pass',
      detail: `local clock ${new Date(now).toISOString()} (plausible); no token to compare, and no time source is reachable offline`,
    };
  }
  const drift = info.issuedAt.getTime() - mintedAt;
  if (Math.abs(drift) > 5_000) {
    return {
      id: 'clock',
      status: 'warn',
      detail: `the token is dated ${info.issuedAt.toISOString()}, ${formatDuration(drift)} away from the local clock when it was minted`,
      fix: "the signer did not use this machine's clock; check for a faked clock (libfaketime, TZ tricks)",
    };
  }
  return {
    id: 'clock',
    status: 'pass',
    detail: `the token's X-Amz-Date ${info.issuedAt.toISOString()} matches the local clock (only this was checked here: no time source is reachable offline; the server's clock is compared after login)`,
  };
}

interface ProbeContext {
  engine: Engine;
  args: ReturnType<typeof connectionArgs>;
  caName: string;
  info: AuthTokenInfo | undefined;
  endpoint: RdsEndpoint | undefined;
  regionMismatch: boolean;
  tokenMinted: boolean;
  /** The authorization check, when one ran: a failed one is the first cause of a rejection. */
  authorization?: Check | undefined;
}

function probeChecks(result: ProbeResult, ctx: ProbeContext): Check[] {
  const { args } = ctx;
  const checks: Check[] = [];
  const target = `${args.host}:${args.port}`;
  if (!result.tcp.ok) {
    const code = result.tcp.error?.code ?? 'ERROR';
    checks.push({
      id: 'tcp',
      status: 'fail',
      detail: `cannot connect to ${target}: ${code} ${result.tcp.error?.message ?? ''}`.trim(),
      fix:
        code === 'ECONNREFUSED'
          ? `nothing accepts connections on port ${args.port} there: check the port (the instance's port, 5432 / 3306 by default), that the instance is available, or that your tunnel is up`
          : code === 'ETIMEDOUT'
            ? `packets are dropped: the security group must allow inbound TCP ${args.port} from this machine, the instance must be publicly accessible (or you inside its VPC / VPN), and network ACLs / firewalls must let it through`
            : 'check the network path to the host (VPN, proxy, firewall)',
    });
    checks.push(
      { id: 'tls', status: 'skip', detail: 'no connection' },
      { id: 'login', status: 'skip', detail: 'no connection' },
      { id: 'server-clock', status: 'skip', detail: 'no connection' },
    );
    return checks;
  }
  checks.push({
    id: 'tcp',
    status: 'pass',
    detail: `connected to ${result.tcp.address ?? target} in ${result.tcp.ms ?? 0} ms`,
  });
  const tls = result.tls;
  if (tls === undefined || !tls.ok) {
    checks.push(tlsFailure(tls, ctx));
    checks.push(
      {
        id: 'login',
        status: 'skip',
        detail: 'not attempted: the token is never sent without verified TLS',
      },
      { id: 'server-clock', status: 'skip', detail: 'no login' },
    );
    return checks;
  }
  checks.push({
    id: 'tls',
    status: 'pass',
    detail: `${tls.protocol ?? 'TLS'}, certificate ${tls.subject ?? '?'} issued by ${tls.issuer ?? '?'}, valid until ${tls.validTo ?? '?'}, verified against ${ctx.caName} for ${args.signingHost}`,
  });
  if (!ctx.tokenMinted) {
    checks.push(
      { id: 'login', status: 'skip', detail: 'no token (see above)' },
      { id: 'server-clock', status: 'skip', detail: 'no login' },
    );
    return checks;
  }
  checks.push(loginCheck(result.login, ctx));
  checks.push(serverClockCheck(result));
  return checks;
}

function tlsFailure(tls: TlsResult | undefined, ctx: ProbeContext): Check {
  const { args } = ctx;
  if (tls === undefined) return { id: 'tls', status: 'fail', detail: 'TLS was not negotiated' };
  if (!tls.offered) {
    return {
      id: 'tls',
      status: 'fail',
      detail: tls.message ?? 'the server does not offer TLS',
      fix: `RDS always offers TLS and requires it for IAM users, so ${args.host}:${args.port} is not RDS (or something in between strips TLS): a local server, a pooler without TLS, or the wrong port. To try IAM logins against a local server, put the emulator in front of it: rds-iam emulator --engine ${ctx.engine} --upstream ...`,
    };
  }
  const code = tls.verifyError ?? '';
  const presented = `the server presented ${tls.subject ?? 'a certificate'}${tls.issuer ? ` issued by ${tls.issuer}` : ''}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    return {
      id: 'tls',
      status: 'fail',
      detail: `${presented} for ${tls.altNames ?? 'other names'}, not for ${args.signingHost}`,
      fix: args.signingOverridden
        ? '--signing-host must be the endpoint name the certificate carries (the RDS endpoint)'
        : 'when you dial a tunnel, alias or IP, pass --signing-host <the RDS endpoint name> (and --signing-port): the token and the certificate check both use it',
    };
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return {
      id: 'tls',
      status: 'fail',
      detail: `${presented}, which is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not yet valid'} by this machine's clock (valid until ${tls.validTo ?? '?'})`,
      fix: "check this machine's clock; if it is right, rotate the instance's certificate authority (modify-db-instance --ca-certificate-identifier rds-ca-rsa2048-g1)",
    };
  }
  if (code === 'ETIMEDOUT') {
    // The probe's own bound: no certificate was presented at all.
    return {
      id: 'tls',
      status: 'fail',
      detail: `no TLS session: ${tls.message ?? 'no answer within --timeout'}`,
      fix: 'the port accepted the connection but the server did not answer: check that it is the database port and that nothing in between (a firewall, a proxy, a tunnel) holds connections open; --timeout sets how long each step may take',
    };
  }
  if (code) {
    return {
      id: 'tls',
      status: 'fail',
      detail: `${presented}; it does not verify against ${ctx.caName} (${code})`,
      fix: ctx.caName.startsWith('--ca-file')
        ? 'the --ca-file is not the CA that signed this server certificate: for the emulator use the CA file it printed'
        : "not an RDS certificate: for the rds-iam emulator or another proxy, pass its CA with --ca-file; for RDS, check the instance's certificate authority and that you reach RDS, not a TLS-intercepting proxy",
    };
  }
  return {
    id: 'tls',
    status: 'fail',
    detail: `the TLS handshake failed: ${tls.message ?? 'unknown error'}`,
    fix: 'check that the port speaks the database protocol with TLS (not a load balancer terminating something else)',
  };
}

function loginCheck(login: LoginResult | undefined, ctx: ProbeContext): Check {
  const { args, engine } = ctx;
  const server = login?.serverVersion
    ? ` (${engine === 'postgres' ? 'PostgreSQL' : 'server'} ${login.serverVersion})`
    : '';
  if (login === undefined) return { id: 'login', status: 'fail', detail: 'no answer to the login' };
  switch (login.outcome) {
    case 'accepted':
      return { id: 'login', status: 'pass', detail: `accepted as ${args.user}${server}` };
    case 'no-password':
      return {
        id: 'login',
        status: 'warn',
        detail: `let in as ${args.user}${server} without asking for the token (${login.method ?? 'no password'}): the token was not checked`,
        fix: 'this server trusts the user, which RDS never does for IAM users: you are not testing IAM here (use the rds-iam emulator for local tests)',
      };
    case 'not-iam':
      return {
        id: 'login',
        status: 'fail',
        detail: `the server asked for ${login.method ?? 'another method'}, not the cleartext password RDS asks IAM users for; the token was not sent${server}`,
        fix:
          engine === 'postgres'
            ? `${args.user} is not an IAM user: GRANT rds_iam TO "${args.user}"; (then its password no longer works)`
            : `${args.user} is not an IAM user: ALTER USER '${args.user}' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';`,
      };
    case 'rejected': {
      const err = login.error ?? { message: 'rejected' };
      const code =
        err.errno !== undefined
          ? `${err.errno}${err.sqlState ? ` / ${err.sqlState}` : ''}`
          : (err.code ?? '');
      return {
        id: 'login',
        status: 'fail',
        detail: `rejected: ${err.message}${code ? ` (${code})` : ''}`,
        ...explainRejection(err, ctx),
      };
    }
    default:
      return {
        id: 'login',
        status: 'fail',
        detail: `the login did not complete: ${login.error?.message ?? 'unknown error'}`,
        fix: 'the server closed or stalled the connection: check its logs; RDS Proxy closes connections whose user has no secret or IAM setting',
      };
  }
}

/** The likely causes of a rejection, most likely first, for that exact message. */
export function explainRejection(
  err: { code?: string; errno?: number; message: string },
  ctx: Pick<ProbeContext, 'engine' | 'args' | 'info' | 'endpoint' | 'regionMismatch'> &
    Partial<Pick<ProbeContext, 'authorization'>>,
): { fix: string; causes?: string[] } {
  const { args, engine, info, endpoint } = ctx;
  const user = args.user;
  const message = err.message;
  if (engine === 'postgres') {
    if (/role ".*" does not exist/.test(message)) {
      return {
        fix: `the database has no user ${user}: CREATE USER "${user}"; GRANT rds_iam TO "${user}"; (as the master user)`,
      };
    }
    if (/database ".*" does not exist/.test(message) || err.code === '3D000') {
      return {
        fix: 'the login worked but the database does not exist: pass --database with an existing one',
      };
    }
    if (/pg_hba\.conf|no encryption/.test(message)) {
      return {
        fix: 'the server refuses this connection (pg_hba.conf): IAM logins need TLS (rds.force_ssl) and a host / user the rules allow',
      };
    }
    if (/password authentication failed/.test(message)) {
      return { fix: `${user} logs in with a password, not IAM: GRANT rds_iam TO "${user}";` };
    }
    if (/too many connections|remaining connection slots/.test(message) || err.code === '53300') {
      return {
        fix: 'the server is out of connection slots (max_connections): close idle connections or use a pool / RDS Proxy',
      };
    }
  } else {
    if (err.errno === 3159) {
      return {
        fix: 'the server requires TLS (require_secure_transport): the login must use TLS, which this check does',
      };
    }
    if (err.errno === 1049)
      return {
        fix: 'the login worked but the database does not exist: pass --database with an existing one',
      };
    if (err.errno === 1044)
      return {
        fix: `the login worked but ${user} has no rights on the database: GRANT ... ON db.* TO '${user}'@'%'`,
      };
    if (err.errno === 1040)
      return { fix: 'too many connections: close idle connections or use a pool / RDS Proxy' };
    if (err.errno === 1129)
      return {
        fix: 'this host is blocked after too many failed connections: FLUSH HOSTS (or raise max_connect_errors)',
      };
  }
  const isIamRejection =
    engine === 'postgres'
      ? /PAM authentication failed/.test(message) || err.code === '28P01' || err.code === '28000'
      : err.errno === 1045;
  if (!isIamRejection) return { fix: 'see the server message above' };

  const signed = info
    ? `${info.user}@${info.host}:${info.port} in ${info.region}`
    : `${user}@${args.signingHost}:${args.signingPort}`;
  const resource =
    endpoint?.kind === 'proxy' || endpoint?.kind === 'proxy-endpoint'
      ? 'prx-...'
      : endpoint?.kind?.startsWith('cluster')
        ? 'cluster-...'
        : 'db-... (or cluster-... for Aurora)';
  const arn = `arn:${endpoint?.partition ?? 'aws'}:rds-db:${info?.region ?? endpoint?.region ?? 'REGION'}:ACCOUNT:dbuser:${resource}/${user}`;
  const causes: string[] = [];
  if (ctx.authorization?.status === 'fail') {
    causes.push(
      `the IAM policy does not allow this login (see "authorization" above): ${ctx.authorization.fix ?? ctx.authorization.detail}`,
    );
  }
  if (ctx.regionMismatch && endpoint) {
    causes.push(
      `the token is signed for ${info?.region ?? args.region}, but the endpoint is in ${endpoint.region}: drop --region`,
    );
  }
  causes.push(
    engine === 'postgres'
      ? `${user} is not enabled for IAM in the database: GRANT rds_iam TO "${user}"; (user names are case-sensitive; a missing user reads the same)`
      : `${user} is not an IAM user in the database: CREATE USER '${user}' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'; (a missing user reads the same)`,
    `the IAM identity (access key ${info ? maskAccessKeyId(info.accessKeyId) : 'unknown'}) may not rds-db:connect as ${user}: its policy needs ${arn} (the resource id, not the name; rds-iam policy --instance NAME --user ${user} prints it)`,
    'IAM database authentication is off on the instance or cluster: aws rds modify-db-instance --db-instance-identifier NAME --enable-iam-database-authentication --apply-immediately (modify-db-cluster for Aurora)',
    `the token names the wrong endpoint or region: it is signed for ${signed}; it must name the RDS endpoint and port the server has (through a tunnel, alias or IP pass --signing-host and --signing-port) and its region`,
    `this machine's clock is off by more than 5 minutes (the token is dated ${info?.issuedAt.toISOString() ?? 'now'} by it; RDS rejects expired and future tokens)`,
  );
  if (info?.hasSessionToken) {
    causes.push(
      'the temporary credentials were revoked or their session policy denies rds-db:connect',
    );
  }
  if (endpoint?.kind === 'proxy' || endpoint?.kind === 'proxy-endpoint') {
    causes.push(
      "RDS Proxy: the proxy's authentication for this user must allow IAM (IAMAuth REQUIRED) and the proxy role must read its secret",
    );
  }
  causes.push(
    'more than ~200 new IAM connections per second to this instance: RDS throttles IAM logins (pool connections)',
  );
  return {
    fix:
      engine === 'postgres'
        ? 'RDS answers "PAM authentication failed" to every rejected token and does not say why: go through the causes below'
        : 'RDS answers 1045 "Access denied" to every rejected token and does not say why: go through the causes below',
    causes,
  };
}

function serverClockCheck(result: ProbeResult): Check {
  const time = result.serverTime;
  if (time === undefined) {
    return {
      id: 'server-clock',
      status: 'skip',
      detail: result.serverTimeError
        ? `could not read the server's clock: ${result.serverTimeError}`
        : "no login, so only the token's date was checked against the local clock",
    };
  }
  const skew = time.serverMs - time.localMs;
  const amount =
    Math.abs(skew) < 60_000
      ? `${(Math.abs(skew) / 1000).toFixed(1)} s`
      : formatDuration(Math.abs(skew));
  const text = `the server's clock is ${amount} ${skew >= 0 ? 'ahead of' : 'behind'} this machine's (round trip ${time.roundTripMs} ms)`;
  if (Math.abs(skew) > 300_000) {
    return {
      id: 'server-clock',
      status: 'fail',
      detail: text,
      fix: 'RDS rejects tokens more than 5 minutes off: sync this clock (NTP, chrony)',
    };
  }
  if (Math.abs(skew) > 30_000) {
    return {
      id: 'server-clock',
      status: 'warn',
      detail: text,
      fix: 'sync this clock (NTP, chrony) before the drift reaches 5 minutes',
    };
  }
  return { id: 'server-clock', status: 'pass', detail: text };
}

function isPrivate(address: string): boolean {
  return /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|fd|fc)/i.test(address);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${what} took longer than ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        done(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        fail(err);
      },
    );
  });
}

function reporter(io: Io, json: boolean) {
  const checks: Check[] = [];
  const s = styleFor(io.stdout, io.env);
  const label: Record<Check['status'], string> = {
    pass: s.green('PASS'),
    fail: s.red('FAIL'),
    warn: s.yellow('WARN'),
    skip: s.dim('SKIP'),
  };
  return {
    header(text: string): void {
      if (!json) io.stdout.write(`${s.bold(text)}\n`);
    },
    add(check: Check): void {
      checks.push(check);
      if (json) return;
      io.stdout.write(`  ${label[check.status]}  ${check.id.padEnd(12)} ${check.detail}\n`);
      if (check.fix) io.stdout.write(`        ${' '.repeat(12)} ${s.cyan('fix:')} ${check.fix}\n`);
      if (check.causes?.length) {
        io.stdout.write(`        ${' '.repeat(12)} likely causes, most likely first:\n`);
        check.causes.forEach((cause, i) => {
          io.stdout.write(`        ${' '.repeat(12)}   ${i + 1}. ${cause}\n`);
        });
      }
    },
    finish(target: Record<string, unknown>): number {
      const failed = checks.filter((c) => c.status === 'fail').length;
      const warned = checks.filter((c) => c.status === 'warn').length;
      const passed = checks.filter((c) => c.status === 'pass').length;
      if (json) {
        writeJson(io.stdout, { ok: failed === 0, ...target, checks });
      } else {
        const summary = `${passed} passed, ${failed} failed, ${warned} warning${warned === 1 ? '' : 's'}`;
        io.stdout.write(`${failed ? s.red(summary) : s.green(summary)}\n`);
      }
      return failed ? EXIT.FAILED : EXIT.OK;
    },
  };
}
