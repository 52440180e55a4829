import type { ContextKeyTypeEnum } from '@aws-sdk/client-iam';
import {
  type CompiledPolicies,
  dbUserArn,
  evaluatePolicies,
  type PolicyEvaluation,
  type RequestContext,
} from '@rds-iam/policy';
import { messageOf } from '../errors.js';
import { type ContextValues, requestContextOf } from '../request-context.js';
import type { Check } from './check.js';

/** What `rds-iam doctor` knows to check the IAM policy for one login. */
export interface AuthorizationInput {
  region: string;
  /** The database's account; with the simulator, the caller's account when omitted. */
  account: string | undefined;
  resourceId: string;
  user: string;
  /** `--policy-file` documents: evaluated locally. Without them, IAM's policy simulator is asked. */
  policies: CompiledPolicies | undefined;
  profile: string | undefined;
  env: NodeJS.ProcessEnv;
  /** `--context` and its shorthands: the request context, for the local evaluation and the simulator. */
  context?: ContextValues;
}

/**
 * The `authorization` check of `rds-iam doctor`: may the caller `rds-db:connect` as the user? With
 * policy files it evaluates them locally (`@rds-iam/policy`, with the request context given);
 * otherwise it asks AWS: `sts:GetCallerIdentity` for the principal, then
 * `iam:SimulatePrincipalPolicy` for `rds-db:connect` on the dbuser ARN with the same context, which
 * also covers what a local check cannot see (SCPs, permissions boundaries, the principal's policies).
 */
export async function authorizationCheck(input: AuthorizationInput): Promise<Check> {
  const { context, complete } = requestContextOf(input.context ?? {}, input.region);
  if (input.policies) {
    const account = input.account ?? '';
    const resource = dbUserArn({ ...input, account });
    const result = evaluatePolicies(input.policies, { resource, context, complete });
    return fromEvaluation(result, `the policy files (${input.policies.names.join(', ')})`);
  }
  return simulate(input, context);
}

function fromEvaluation(result: PolicyEvaluation, source: string): Check {
  const target = `${result.action} on ${result.resource}`;
  const keys = result.missingContext.join(', ');
  if (!result.determined) {
    return {
      id: 'authorization',
      status: 'warn',
      detail: `undetermined: ${source} ${result.decision === 'explicit-deny' ? 'may deny' : 'may allow'} ${target} depending on ${keys}, which the request did not carry (if absent: ${result.ifAbsent})${result.nearestMiss ? `; ${result.nearestMiss.explanation}` : ''}`,
      fix: `give ${keys} with --context KEY=VALUE to decide`,
    };
  }
  const absent = keys ? ` (for a request without ${keys})` : '';
  if (result.decision === 'allow') {
    return {
      id: 'authorization',
      status: keys ? 'warn' : 'pass',
      detail: `allow: ${source} allow ${target}${absent}`,
    };
  }
  const miss = result.nearestMiss;
  const fix =
    miss && miss.differs.length > 0
      ? `the policy's ${miss.differs.map((d) => d.replace('-', ' ')).join(' and ')} ${miss.differs.length === 1 ? 'differs' : 'differ'} from the login's: allow ${result.resource} (rds-iam policy prints it)`
      : result.decision === 'explicit-deny'
        ? 'remove or narrow the Deny statement: an explicit Deny wins over every Allow'
        : `allow ${target} (rds-iam policy prints the statement)`;
  return {
    id: 'authorization',
    status: 'fail',
    detail: `${result.decision}: ${source} do not allow ${target}${absent}${miss ? `; ${miss.explanation}` : ''}`,
    fix,
    ...(miss && miss.differs.length > 0 ? { causes: miss.differs.map(partCause) } : {}),
  };
}

function partCause(part: string): string {
  switch (part) {
    case 'resource-id':
      return 'the resource id: it is the DbiResourceId (db-...), DbClusterResourceId (cluster-...) or proxy id (prx-...), never the instance name';
    case 'region':
      return "the region: the policy must name the database's region";
    case 'account':
      return "the account: the policy must name the database's account id";
    case 'user':
      return 'the database user: user names are case-sensitive';
    case 'partition':
      return 'the partition: aws-cn for China, aws-us-gov for GovCloud';
    default:
      return 'the service: it is rds-db (not rds)';
  }
}

/** The IAM principal to simulate for a caller ARN: an assumed role's session becomes its role. */
export function principalOf(callerArn: string): string | undefined {
  const m = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  if (m) return `arn:${m[1]}:iam::${m[2]}:role/${m[3]}`;
  if (/^arn:[^:]+:iam::\d{12}:(user|role)\//.test(callerArn)) return callerArn;
  return undefined;
}

async function simulate(input: AuthorizationInput, context: RequestContext): Promise<Check> {
  // The SDK's notice about future Node.js versions is for developers, not for a doctor's report.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Loaded here only: most doctor runs never call IAM.
  const [sts, iam] = await Promise.all([
    import('@aws-sdk/client-sts'),
    import('@aws-sdk/client-iam'),
  ]);
  const common = {
    region: input.region,
    maxAttempts: 2,
    ...(input.profile ? { profile: input.profile } : {}),
  };
  const stsEndpoint = input.env.AWS_ENDPOINT_URL_STS;
  const iamEndpoint = input.env.AWS_ENDPOINT_URL_IAM;
  const stsClient = new sts.STSClient({
    ...common,
    ...(stsEndpoint ? { endpoint: stsEndpoint } : {}),
  });
  const iamClient = new iam.IAMClient({
    ...common,
    ...(iamEndpoint ? { endpoint: iamEndpoint } : {}),
  });
  try {
    let callerArn: string;
    let callerAccount: string;
    try {
      const me = await stsClient.send(new sts.GetCallerIdentityCommand({}));
      callerArn = me.Arn ?? '';
      callerAccount = me.Account ?? '';
    } catch (err) {
      return {
        id: 'authorization',
        status: 'warn',
        detail: `not checked: sts:GetCallerIdentity failed: ${nameOf(err)}: ${messageOf(err)}`,
        fix: 'check the policy locally instead: --policy-file FILE (the identity policies of the caller)',
      };
    }
    const principal = principalOf(callerArn);
    const resource = dbUserArn({ ...input, account: input.account ?? callerAccount });
    if (principal === undefined) {
      return {
        id: 'authorization',
        status: 'warn',
        detail: `not checked: the caller ${callerArn} is not an IAM user or role the policy simulator can evaluate`,
        fix: `check locally with --policy-file; the login needs rds-db:connect on ${resource}`,
      };
    }
    let decision: string | undefined;
    let matched: string[] = [];
    let missing: string[] = [];
    const deniedBy: string[] = [];
    try {
      const out = await iamClient.send(
        new iam.SimulatePrincipalPolicyCommand({
          PolicySourceArn: principal,
          ActionNames: ['rds-db:connect'],
          ResourceArns: [resource],
          ContextEntries: contextEntries(context),
        }),
      );
      const first = out.EvaluationResults?.[0];
      decision = first?.EvalDecision;
      matched = (first?.MatchedStatements ?? []).map((s) => s.SourcePolicyId ?? '?');
      missing = first?.MissingContextValues ?? [];
      // What the simulator sees and a local check cannot: the organization's SCPs and the boundary.
      if (first?.OrganizationsDecisionDetail?.AllowedByOrganizations === false) {
        deniedBy.push('a service control policy of the organization');
      }
      if (first?.PermissionsBoundaryDecisionDetail?.AllowedByPermissionsBoundary === false) {
        deniedBy.push(`the permissions boundary of ${principal}`);
      }
    } catch (err) {
      const name = nameOf(err);
      if (/AccessDenied|UnauthorizedOperation/.test(name)) {
        return {
          id: 'authorization',
          status: 'warn',
          detail: `not checked: ${callerArn} may not call iam:SimulatePrincipalPolicy (${name}), so IAM's policy simulator cannot say whether it may rds-db:connect on ${resource}`,
          fix: `allow iam:SimulatePrincipalPolicy on ${principal} to this caller, or check the policy locally: rds-iam doctor ... --policy-file FILE --account ACCOUNT --resource-id ${input.resourceId}`,
        };
      }
      return {
        id: 'authorization',
        status: 'warn',
        detail: `not checked: iam:SimulatePrincipalPolicy failed: ${name}: ${messageOf(err)}`,
        fix: 'check the policy locally: --policy-file FILE',
      };
    }
    const by = matched.length > 0 ? ` (matched: ${matched.join(', ')})` : '';
    const absent = missing.length
      ? `; it lacked ${missing.join(', ')}: give ${missing.length === 1 ? 'it' : 'them'} with --context KEY=VALUE`
      : '';
    if (decision === 'allowed') {
      return {
        id: 'authorization',
        status: missing.length ? 'warn' : 'pass',
        detail: `allow: IAM's policy simulator says ${principal} may rds-db:connect on ${resource}${by}${absent}`,
      };
    }
    const word = decision === 'explicitDeny' ? 'explicit-deny' : 'implicit-deny';
    return {
      id: 'authorization',
      status: 'fail',
      detail: `${word}: IAM's policy simulator says ${principal} may not rds-db:connect on ${resource}${by}${deniedBy.length ? `; denied by ${deniedBy.join(' and ')}` : ''}${absent}`,
      fix:
        word === 'explicit-deny'
          ? `a Deny statement of ${principal} (or an SCP / permissions boundary) covers it: remove or narrow it`
          : `attach a policy allowing rds-db:connect on ${resource} to ${principal} (rds-iam policy prints it); check that it names this resource id (${input.resourceId}), not the instance name`,
    };
  } finally {
    stsClient.destroy();
    iamClient.destroy();
  }
}

/** The request context as the simulator takes it, each key with IAM's type for it. */
function contextEntries(context: RequestContext) {
  const types: Record<string, ContextKeyTypeEnum> = {
    'aws:sourceip': 'ip',
    'aws:currenttime': 'date',
    'aws:epochtime': 'numeric',
    'aws:securetransport': 'boolean',
    'aws:multifactorauthpresent': 'boolean',
    'aws:multifactorauthage': 'numeric',
  };
  return Object.entries(context).map(([key, value]) => {
    const list = Array.isArray(value) ? value.map(String) : [String(value)];
    const type = types[key.toLowerCase()] ?? 'string';
    return {
      ContextKeyName: key,
      ContextKeyValues: list,
      ContextKeyType: (Array.isArray(value) ? `${type}List` : type) as ContextKeyTypeEnum,
    };
  });
}

function nameOf(err: unknown): string {
  return (err as { name?: string }).name ?? 'Error';
}
