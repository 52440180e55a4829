import { partitionOfRegion } from '@rds-iam/core';
import { dbUserArn as policyDbUserArn } from '@rds-iam/policy';
import { msOption, regionOption } from '../args.js';
import { CliError, EXIT, messageOf, UsageError } from '../errors.js';
import { type Io, styleFor } from '../io.js';

/** The options `rds-iam policy` and `rds-iam policy check` share to name the database users. */
export const POLICY_TARGET_OPTIONS = {
  region: { type: 'string' },
  account: { type: 'string' },
  'resource-id': { type: 'string' },
  user: { type: 'string', multiple: true },
  instance: { type: 'string' },
  cluster: { type: 'string' },
  profile: { type: 'string' },
  'endpoint-url': { type: 'string' },
  timeout: { type: 'string' },
} as const;

/** The help lines of {@link POLICY_TARGET_OPTIONS}. */
export const POLICY_TARGET_HELP = `  --region <region>       the database's region (optional with --instance / --cluster)
  --account <id>          the 12-digit AWS account id (optional with --instance / --cluster)
  --resource-id <id>      db-..., cluster-... or prx-... ("*" for every database in the account)
  --user <user>           a database user; repeat for several ("*" for every user)
  --instance <name>       look the resource id up for this DB instance identifier
  --cluster <name>        look the resource id up for this Aurora DB cluster identifier
  --profile <name>        AWS profile for the look-up
  --endpoint-url <url>    RDS API endpoint for the look-up (also AWS_ENDPOINT_URL_RDS)
  --timeout <ms>          give up on the look-up after this long, retries included (default 10000)`;

/** The database users a policy is about, with their account, region and resource id. */
export interface PolicyTarget {
  region: string;
  account: string;
  resourceId: string;
  users: string[];
}

/** The values parsed from {@link POLICY_TARGET_OPTIONS}. */
export interface PolicyTargetValues {
  region?: string | undefined;
  account?: string | undefined;
  'resource-id'?: string | undefined;
  user?: string[] | undefined;
  instance?: string | undefined;
  cluster?: string | undefined;
  profile?: string | undefined;
  'endpoint-url'?: string | undefined;
  timeout?: string | undefined;
}

/**
 * Validates the target options and, with `--instance` / `--cluster`, looks the resource id, account
 * and region up with the RDS API. One function, so that `policy` and `policy check` agree.
 */
export async function resolvePolicyTarget(
  values: PolicyTargetValues,
  io: Io,
): Promise<PolicyTarget> {
  const users = (values.user ?? []).map((u) => u.trim());
  if (users.length === 0) throw new UsageError('--user is required (repeat it for several users)');
  for (const user of users) {
    if (user === '' || user.includes('/')) {
      throw new UsageError(`--user '${user}' is not a database user name`);
    }
  }
  const timeoutMs = msOption(values.timeout, 'timeout', LOOKUP_TIMEOUT_MS);
  let region = regionOption(values.region);
  let account = accountOption(values.account);
  let resourceId = resourceIdOption(values['resource-id']);
  const lookup = values.instance ?? values.cluster;
  if (values.instance !== undefined && values.cluster !== undefined) {
    throw new UsageError('give --instance or --cluster, not both');
  }
  if (lookup !== undefined) {
    if (resourceId !== undefined) {
      throw new UsageError('give --resource-id or --instance / --cluster, not both');
    }
    const found = await lookUp(
      values.instance !== undefined ? 'instance' : 'cluster',
      lookup.trim(),
      region,
      values.profile,
      values['endpoint-url'] ?? io.env.AWS_ENDPOINT_URL_RDS,
      timeoutMs,
    );
    resourceId = found.resourceId;
    if (account !== undefined && account !== found.account) {
      warn(
        io,
        `--account ${account} differs from the account in ${found.arn}; using ${found.account}`,
      );
    }
    if (region !== undefined && region !== found.region) {
      warn(io, `--region ${region} differs from the region in ${found.arn}; using ${found.region}`);
    }
    account = found.account;
    region = found.region;
    if (found.iamEnabled === false) {
      warn(
        io,
        `IAM database authentication is not enabled on ${found.arn}: tokens are rejected until you run aws rds ${found.kind === 'instance' ? `modify-db-instance --db-instance-identifier ${lookup}` : `modify-db-cluster --db-cluster-identifier ${lookup}`} --enable-iam-database-authentication --apply-immediately`,
      );
    }
  }
  if (region === undefined)
    throw new UsageError('--region is required (or --instance / --cluster)');
  if (account === undefined)
    throw new UsageError('--account is required (or --instance / --cluster)');
  if (resourceId === undefined) {
    throw new UsageError(
      '--resource-id is required (db-..., cluster-..., prx-...), or --instance / --cluster',
    );
  }
  return { region, account, resourceId, users };
}

function warn(io: Io, text: string): void {
  io.stderr.write(`${styleFor(io.stderr, io.env).yellow('warning:')} ${text}\n`);
}

/** The partition a region belongs to, by its name: core's table, shared with `parseRdsEndpoint`. */
export const partitionOf = partitionOfRegion;

/** `arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`. */
export function dbUserArn(
  region: string,
  account: string,
  resourceId: string,
  user: string,
): string {
  return policyDbUserArn({ region, account, resourceId, user });
}

/** The policy document allowing `rds-db:connect` as each user. */
export function policyDocument(
  region: string,
  account: string,
  resourceId: string,
  users: readonly string[],
): { Version: string; Statement: { Effect: string; Action: string; Resource: string[] }[] } {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'rds-db:connect',
        Resource: [...new Set(users)].map((u) => dbUserArn(region, account, resourceId, u)),
      },
    ],
  };
}

/** `--account`: 12 digits (dashes allowed). */
export function accountOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const account = value.trim().replaceAll('-', '');
  if (!/^\d{12}$/.test(account)) {
    throw new UsageError(
      `--account must be a 12-digit AWS account id (got '${value.slice(0, 20)}')`,
    );
  }
  return account;
}

/** `--resource-id`: db-..., cluster-..., prx-... or `*`, never an instance name. */
export function resourceIdOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const id = value.trim();
  if (id === '*' || /^(?:db|cluster|prx)-[A-Za-z0-9]+$/.test(id)) return id;
  throw new UsageError(
    `--resource-id must look like db-XXXX (instance), cluster-XXXX (Aurora cluster) or prx-XXXX (RDS Proxy), got '${id.slice(0, 40)}'; for an instance name use --instance ${id.slice(0, 40)}`,
  );
}

interface Found {
  kind: 'instance' | 'cluster';
  resourceId: string;
  arn: string;
  region: string;
  account: string;
  iamEnabled: boolean | undefined;
}

/**
 * The whole look-up's bound, retries included: the SDK's RDS client waits without limit for an
 * endpoint that accepts the connection and never answers. Ten seconds is far above the API's usual
 * answer (well under a second) and its two attempts.
 */
const LOOKUP_TIMEOUT_MS = 10_000;

async function lookUp(
  kind: 'instance' | 'cluster',
  identifier: string,
  region: string | undefined,
  profile: string | undefined,
  endpointUrl: string | undefined,
  timeoutMs: number,
): Promise<Found> {
  if (identifier === '') throw new UsageError(`--${kind} must not be empty`);
  if (endpointUrl !== undefined) {
    try {
      new URL(endpointUrl);
    } catch {
      throw new UsageError(
        '--endpoint-url must be a URL such as https://rds.us-east-1.amazonaws.com',
      );
    }
  }
  // The SDK's notice about future Node.js versions is for developers, not for someone printing a
  // policy; it stays available by setting the variable to false.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Loaded here only: most commands never call the RDS API, and the SDK client is most of the start-up time.
  const rds = await import('@aws-sdk/client-rds');
  const client = new rds.RDSClient({
    ...(region ? { region } : {}),
    ...(profile ? { profile } : {}),
    ...(endpointUrl ? { endpoint: endpointUrl } : {}),
    maxAttempts: 2,
  });
  const action = kind === 'instance' ? 'DescribeDBInstances' : 'DescribeDBClusters';
  // Unref'd by Node: it bounds the wait without keeping the process up.
  const abortSignal = AbortSignal.timeout(timeoutMs);
  try {
    if (kind === 'instance') {
      const out = await client.send(
        new rds.DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
        { abortSignal },
      );
      const db = out.DBInstances?.[0];
      if (!db?.DbiResourceId || !db.DBInstanceArn) {
        throw new CliError(
          `${action} returned no DB instance '${identifier}'`,
          EXIT.AWS_API,
          'ERR_NOT_FOUND',
        );
      }
      return found(kind, db.DbiResourceId, db.DBInstanceArn, db.IAMDatabaseAuthenticationEnabled);
    }
    const out = await client.send(
      new rds.DescribeDBClustersCommand({ DBClusterIdentifier: identifier }),
      { abortSignal },
    );
    const cluster = out.DBClusters?.[0];
    if (!cluster?.DbClusterResourceId || !cluster.DBClusterArn) {
      throw new CliError(
        `${action} returned no DB cluster '${identifier}'`,
        EXIT.AWS_API,
        'ERR_NOT_FOUND',
      );
    }
    return found(
      kind,
      cluster.DbClusterResourceId,
      cluster.DBClusterArn,
      cluster.IAMDatabaseAuthenticationEnabled,
    );
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (abortSignal.aborted) {
      throw new CliError(
        `${action} did not answer within ${timeoutMs} ms (--timeout). Check the network path to the RDS API (--endpoint-url, proxy settings), or pass --resource-id, --account and --region instead of the look-up`,
        EXIT.AWS_API,
        'ERR_TIMEOUT',
      );
    }
    const name = (err as { name?: string }).name ?? 'Error';
    if (name === 'CredentialsProviderError') {
      throw new CliError(
        `no AWS credentials for ${action}: ${messageOf(err)}. Set AWS_PROFILE or AWS_ACCESS_KEY_ID, or pass --profile`,
        EXIT.NO_TOKEN,
        'ERR_CREDENTIALS',
      );
    }
    if (/region is missing/i.test(messageOf(err))) {
      throw new UsageError(`${action} needs a region: pass --region or set AWS_REGION`);
    }
    const hint = /NotFound/.test(name)
      ? ` Check the ${kind} identifier and --region.`
      : /AccessDenied|UnauthorizedOperation|InvalidClientTokenId|ExpiredToken/.test(name)
        ? ` Your credentials need rds:${action}; or pass --resource-id, --account and --region instead.`
        : '';
    throw new CliError(
      `${action} failed: ${name}: ${messageOf(err)}.${hint}`,
      EXIT.AWS_API,
      'ERR_AWS_API',
    );
  } finally {
    client.destroy();
  }
}

function found(
  kind: 'instance' | 'cluster',
  resourceId: string,
  arn: string,
  iam: boolean | undefined,
): Found {
  // arn:PARTITION:rds:REGION:ACCOUNT:db:NAME
  const [, , , region, account] = arn.split(':');
  if (!region || !account) {
    throw new CliError(`unexpected ARN from the RDS API: ${arn}`, EXIT.AWS_API, 'ERR_AWS_API');
  }
  return { kind, resourceId, arn, region, account, iamEnabled: iam };
}
