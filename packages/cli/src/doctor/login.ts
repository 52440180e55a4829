import { maskAccessKeyId } from '../mint.js';
import type { LoginResult } from '../probe/conn.js';
import type { Check } from './check.js';
import type { ProbeContext } from './probe.js';

/** The `login` check: the server's answer to the token, with the likely causes of a rejection. */
export function loginCheck(login: LoginResult | undefined, ctx: ProbeContext): Check {
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
