import { partitionOfRegion } from './endpoint.js';
import { RdsIamError } from './errors.js';

/**
 * What IAM decides for one request: `allow` (an Allow statement matched and no Deny did),
 * `explicit-deny` (a Deny statement matched; it wins over any Allow) or `implicit-deny` (nothing
 * allowed it: IAM's default).
 */
export type PolicyDecision = 'allow' | 'implicit-deny' | 'explicit-deny';

/** Where a statement is: the document's position in the list given, its `Statement` index and `Sid`. */
export interface PolicyStatementRef {
  /** 0-based position of the document in the list passed to {@link evaluatePolicies}. */
  policy: number;
  /** 0-based index in the document's `Statement` array (0 when `Statement` is a single object). */
  statement: number;
  /** The statement's `Sid`, when it has one. */
  sid?: string;
  /** `Allow` or `Deny`. */
  effect: 'Allow' | 'Deny';
}

/**
 * A statement that matches the action and resource but was not applied, because part of it cannot be
 * evaluated without AWS: a `Condition` (its keys are listed) or a policy variable such as
 * `${aws:username}` in a resource. Never counted as allowing; a Deny listed here may still deny on AWS.
 */
export interface UnevaluatedStatement extends PolicyStatementRef {
  /** The `Condition` keys (`aws:SourceIp`, ...) or policy variables (`${aws:username}`) it needs. */
  needs: string[];
}

/** A part of a dbuser ARN, in the order it is written. */
export type DbUserArnPart = 'partition' | 'service' | 'region' | 'account' | 'resource-id' | 'user';

/**
 * For a deny: the Allow statement that came closest to allowing the request, and why it did not.
 */
export interface PolicyNearestMiss extends PolicyStatementRef {
  /** The resource pattern of that statement compared with the request (`Resource` entry). */
  pattern?: string;
  /** The ARN parts that differ, in ARN order; empty when the action is what differs. */
  differs: DbUserArnPart[];
  /** `false` when the statement's action list does not cover the requested action. */
  actionMatches: boolean;
  /** One sentence for a person: "Statement[0] allows ..., the login needs ...: the resource id differs". */
  explanation: string;
}

/** The result of {@link evaluatePolicies}. */
export interface PolicyEvaluation {
  decision: PolicyDecision;
  /** The action evaluated, for example `rds-db:connect`. */
  action: string;
  /** The resource ARN evaluated. */
  resource: string;
  /**
   * The statement that decided: the matching Deny for `explicit-deny`, the first matching Allow for
   * `allow`; absent for `implicit-deny`.
   */
  decidedBy?: PolicyStatementRef;
  /** Statements that match but carry what cannot be evaluated locally; see {@link UnevaluatedStatement}. */
  unevaluated: UnevaluatedStatement[];
  /** For a deny, the closest Allow statement and what differs; absent for `allow` or with no Allow at all. */
  nearestMiss?: PolicyNearestMiss;
}

/** One request to evaluate. */
export interface PolicyRequest {
  /** The resource ARN, for example from {@link dbUserArn}. */
  resource: string;
  /** The action; `rds-db:connect` when omitted. */
  action?: string;
}

/** Options of {@link evaluatePolicies}. */
export interface EvaluatePoliciesOptions {
  /**
   * What to call each document in explanations (a file name, say), by position; `policy N` otherwise.
   */
  names?: readonly string[];
}

/** A policy as given: its JSON text, or the parsed document. */
export type PolicyInput = string | Readonly<Record<string, unknown>>;

/** One statement after validation. */
interface Statement {
  ref: PolicyStatementRef;
  action?: string[];
  notAction?: string[];
  resource?: string[];
  notResource?: string[];
  conditionKeys: string[];
}

/** The parts of a dbuser ARN; see {@link dbUserArn}. */
export interface DbUserArnParts {
  region: string;
  account: string;
  /** `db-...` (instance), `cluster-...` (Aurora cluster) or `prx-...` (RDS Proxy). */
  resourceId: string;
  user: string;
  /** Follows the region when omitted (`aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, ...). */
  partition?: string;
}

/**
 * The ARN IAM evaluates for a login: `arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`.
 *
 * @example
 * ```ts
 * dbUserArn({ region: 'eu-west-1', account: '123456789012', resourceId: 'db-ABC', user: 'app' });
 * // 'arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABC/app'
 * ```
 */
export function dbUserArn(parts: DbUserArnParts): string {
  const partition = parts.partition ?? partitionOfRegion(parts.region);
  return `arn:${partition}:rds-db:${parts.region}:${parts.account}:dbuser:${parts.resourceId}/${parts.user}`;
}

/**
 * Evaluates identity policies as IAM does for one request (by default `rds-db:connect`): default deny,
 * an explicit Deny wins over any Allow, `Action`/`NotAction` and `Resource`/`NotResource` as a string
 * or an array, `*` and `?` wildcards, action names case-insensitive, ARNs case-sensitive. A statement
 * that matches but has a `Condition` (or a policy variable) is not applied and is listed in
 * `unevaluated`. Malformed documents throw an {@link RdsIamError}: `ERR_POLICY_NOT_JSON`,
 * `ERR_POLICY_NO_STATEMENT` or `ERR_POLICY_INVALID`, before anything is evaluated.
 *
 * @example
 * ```ts
 * const result = evaluatePolicies([policyJson], {
 *   resource: dbUserArn({ region: 'eu-west-1', account: '123456789012', resourceId: 'db-ABC', user: 'app' }),
 * });
 * if (result.decision !== 'allow') console.error(result.nearestMiss?.explanation);
 * ```
 */
export function evaluatePolicies(
  policies: readonly PolicyInput[],
  request: PolicyRequest,
  options: EvaluatePoliciesOptions = {},
): PolicyEvaluation {
  const label = labeller(options.names ?? []);
  const action = request.action ?? 'rds-db:connect';
  const { resource } = request;
  const statements = policies.flatMap((p, i) => parseStatements(p, i));
  const unevaluated: UnevaluatedStatement[] = [];
  let allow: PolicyStatementRef | undefined;
  let deny: PolicyStatementRef | undefined;
  for (const s of statements) {
    if (!actionMatches(s, action) || !resourceMatches(s, resource)) continue;
    const needs = [...s.conditionKeys, ...policyVariables(s)];
    if (needs.length > 0) {
      unevaluated.push({ ...s.ref, needs });
      continue;
    }
    if (s.ref.effect === 'Deny') deny ??= s.ref;
    else allow ??= s.ref;
  }
  const base = { action, resource, unevaluated };
  if (deny) {
    return {
      ...base,
      decision: 'explicit-deny',
      decidedBy: deny,
      nearestMiss: withExplanation(label, deny, undefined, [], true, action, resource),
    };
  }
  if (allow) return { ...base, decision: 'allow', decidedBy: allow };
  const miss = nearestMiss(label, statements, action, resource, unevaluated);
  return { ...base, decision: 'implicit-deny', ...(miss ? { nearestMiss: miss } : {}) };
}

/**
 * Checks that `input` is an identity policy document IAM would accept, as far as evaluation needs,
 * and returns it parsed. Throws what {@link evaluatePolicies} throws.
 *
 * @example
 * ```ts
 * parsePolicyDocument(readFileSync('policy.json', 'utf8'));
 * ```
 */
export function parsePolicyDocument(input: PolicyInput): Record<string, unknown> {
  const doc = toDocument(input, 0);
  parseStatements(doc, 0);
  return doc;
}

function invalid(index: number, what: string): RdsIamError {
  return new RdsIamError(
    'ERR_POLICY_INVALID',
    `policy ${index}: ${what}; see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html`,
  );
}

function toDocument(input: PolicyInput, index: number): Record<string, unknown> {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (err) {
      throw new RdsIamError(
        'ERR_POLICY_NOT_JSON',
        `policy ${index} is not JSON (${(err as Error).message}); give the policy document itself, for example the output of rds-iam policy`,
      );
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw invalid(index, 'a policy document is a JSON object with "Version" and "Statement"');
  }
  return doc as Record<string, unknown>;
}

function parseStatements(input: PolicyInput, index: number): Statement[] {
  const doc = toDocument(input, index);
  if (!('Statement' in doc)) {
    throw new RdsIamError(
      'ERR_POLICY_NO_STATEMENT',
      `policy ${index} has no "Statement"; a policy document is {"Version": "2012-10-17", "Statement": [...]}`,
    );
  }
  const version = doc.Version;
  if (version !== undefined && version !== '2012-10-17' && version !== '2008-10-17') {
    throw invalid(index, `"Version" must be "2012-10-17" (got ${JSON.stringify(version)})`);
  }
  const raw = doc.Statement;
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) {
    throw new RdsIamError('ERR_POLICY_NO_STATEMENT', `policy ${index} has an empty "Statement"`);
  }
  return list.map((s, i) => parseStatement(s, index, i));
}

function parseStatement(raw: unknown, policy: number, statement: number): Statement {
  const where = `Statement[${statement}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid(policy, `${where} is not an object`);
  }
  const s = raw as Record<string, unknown>;
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') {
    throw invalid(
      policy,
      `${where} has "Effect" ${JSON.stringify(s.Effect)}; it must be "Allow" or "Deny"`,
    );
  }
  if (s.Sid !== undefined && typeof s.Sid !== 'string')
    throw invalid(policy, `${where} "Sid" is not a string`);
  if ('Principal' in s || 'NotPrincipal' in s) {
    throw invalid(
      policy,
      `${where} has a "Principal": that belongs in a resource or trust policy, not in the identity policy IAM evaluates for rds-db:connect`,
    );
  }
  const ref: PolicyStatementRef = {
    policy,
    statement,
    effect: s.Effect,
    ...(typeof s.Sid === 'string' && s.Sid !== '' ? { sid: s.Sid } : {}),
  };
  const action = pair(s, 'Action', 'NotAction', policy, where);
  const res = pair(s, 'Resource', 'NotResource', policy, where);
  return {
    ref,
    ...(action.key === 'Action' ? { action: action.values } : { notAction: action.values }),
    ...(res.key === 'Resource' ? { resource: res.values } : { notResource: res.values }),
    conditionKeys: conditionKeys(s.Condition, policy, where),
  };
}

/** Exactly one of `key` / `notKey`, a string or a non-empty array of strings. */
function pair(
  s: Record<string, unknown>,
  key: string,
  notKey: string,
  policy: number,
  where: string,
): { key: string; values: string[] } {
  const has = key in s;
  const hasNot = notKey in s;
  if (has === hasNot) {
    throw invalid(policy, `${where} needs exactly one of "${key}" and "${notKey}"`);
  }
  const name = has ? key : notKey;
  const value = s[name];
  const values = typeof value === 'string' ? [value] : value;
  if (
    !Array.isArray(values) ||
    values.length === 0 ||
    !values.every((v) => typeof v === 'string')
  ) {
    throw invalid(policy, `${where} "${name}" must be a string or a non-empty array of strings`);
  }
  return { key: name, values: values as string[] };
}

function conditionKeys(condition: unknown, policy: number, where: string): string[] {
  if (condition === undefined) return [];
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) {
    throw invalid(policy, `${where} "Condition" must be an object of operators`);
  }
  const keys = new Set<string>();
  for (const [operator, block] of Object.entries(condition)) {
    if (typeof block !== 'object' || block === null || Array.isArray(block)) {
      throw invalid(policy, `${where} Condition "${operator}" must be an object of keys`);
    }
    for (const key of Object.keys(block)) keys.add(key);
  }
  return [...keys];
}

function policyVariables(s: Statement): string[] {
  const found = new Set<string>();
  for (const r of [...(s.resource ?? []), ...(s.notResource ?? [])]) {
    for (const m of r.matchAll(/\$\{[^}]*\}/g)) found.add(m[0]);
  }
  return [...found];
}

/** A glob (`*` any run, `?` one character) as a regular expression anchored at both ends. */
function globToRegExp(pattern: string, flags = ''): RegExp {
  const body = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, `s${flags}`);
}

function actionMatches(s: Statement, action: string): boolean {
  // Action names are case-insensitive in IAM: "RDS-DB:Connect" allows rds-db:connect.
  const match = (p: string) => globToRegExp(p, 'i').test(action);
  return s.action ? s.action.some(match) : !(s.notAction ?? []).some(match);
}

function resourceMatches(s: Statement, resource: string): boolean {
  return s.resource
    ? s.resource.some((p) => arnMatches(p, resource))
    : !(s.notResource ?? []).some((p) => arnMatches(p, resource));
}

/**
 * IAM compares an ARN part by part: a wildcard in the region does not reach into the account. The
 * resource part (after the fifth colon) may itself hold colons and is matched whole. Case-sensitive.
 */
function arnMatches(pattern: string, arn: string): boolean {
  if (pattern === '*') return true;
  const p = splitArn(pattern);
  const a = splitArn(arn);
  if (!p || !a) return globToRegExp(pattern).test(arn);
  return p.every((part, i) => globToRegExp(part).test(a[i] ?? ''));
}

function splitArn(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

const PART_NAMES: readonly DbUserArnPart[] = [
  'partition',
  'service',
  'region',
  'account',
  'resource-id',
  'user',
];

/**
 * The dbuser ARN as six comparable parts: partition, service, region, account, resource id, user.
 * Anything else (a pattern not written as a dbuser ARN) compares as one unknown block.
 */
function dbUserParts(arn: string): string[] | undefined {
  const parts = splitArn(arn);
  if (!parts) return undefined;
  const m = /^dbuser:([^/]*)\/(.*)$/s.exec(parts[5] ?? '');
  if (!m) return undefined;
  return [parts[1] ?? '', parts[2] ?? '', parts[3] ?? '', parts[4] ?? '', m[1] ?? '', m[2] ?? ''];
}

function differingParts(pattern: string, resource: string): DbUserArnPart[] | undefined {
  const p = dbUserParts(pattern);
  const r = dbUserParts(resource);
  if (!p || !r) return undefined;
  return PART_NAMES.filter((_, i) => !globToRegExp(p[i] ?? '').test(r[i] ?? ''));
}

type Label = (ref: PolicyStatementRef) => string;

function nearestMiss(
  label: Label,
  statements: readonly Statement[],
  action: string,
  resource: string,
  unevaluated: readonly UnevaluatedStatement[],
): PolicyNearestMiss | undefined {
  const firstUnevaluatedAllow = unevaluated.find((u) => u.effect === 'Allow');
  if (firstUnevaluatedAllow) {
    return withExplanation(label, firstUnevaluatedAllow, undefined, [], true, action, resource);
  }
  let best: { s: Statement; pattern?: string; differs: DbUserArnPart[]; score: number } | undefined;
  for (const s of statements) {
    if (s.ref.effect !== 'Allow') continue;
    const actionOk = actionMatches(s, action);
    const candidates = s.resource ?? [];
    for (const pattern of candidates) {
      const differs = differingParts(pattern, resource);
      // An unknown shape scores worse than any dbuser ARN; a wrong action adds one difference.
      const score = (differs ? differs.length : PART_NAMES.length) + (actionOk ? 0 : 1);
      if (!best || score < best.score) best = { s, pattern, differs: differs ?? [], score };
    }
    if (candidates.length === 0 && !best) best = { s, differs: [], score: PART_NAMES.length + 1 };
  }
  if (!best) return undefined;
  return withExplanation(
    label,
    best.s.ref,
    best.pattern,
    best.differs,
    actionMatches(best.s, action),
    action,
    resource,
  );
}

function labeller(names: readonly string[]): Label {
  return (ref) =>
    `${names[ref.policy] ?? `policy ${ref.policy}`} Statement[${ref.statement}]${ref.sid ? ` (Sid ${ref.sid})` : ''}`;
}

function withExplanation(
  label: Label,
  ref: PolicyStatementRef | UnevaluatedStatement,
  pattern: string | undefined,
  differs: DbUserArnPart[],
  actionOk: boolean,
  action: string,
  resource: string,
): PolicyNearestMiss {
  const base = {
    policy: ref.policy,
    statement: ref.statement,
    effect: ref.effect,
    ...(ref.sid ? { sid: ref.sid } : {}),
  };
  let explanation: string;
  if (ref.effect === 'Deny') {
    explanation = `${label(ref)} denies ${action} on ${resource}; an explicit Deny wins over every Allow`;
  } else if ('needs' in ref) {
    explanation = `${label(ref)} would allow ${action} on ${resource} but depends on ${ref.needs.join(', ')}, which cannot be evaluated locally`;
  } else if (!actionOk) {
    explanation = `${label(ref)} does not allow the action ${action} (rds:* is not rds-db:*)`;
  } else if (pattern !== undefined && differs.length > 0) {
    const words = differs.map((d) => d.replace('-', ' '));
    explanation = `${label(ref)} allows ${pattern}, the login needs ${resource}: the ${words.join(', the ')} ${differs.length === 1 ? 'differs' : 'differ'}`;
  } else {
    explanation = `${label(ref)} allows ${pattern ?? 'other resources'}, which does not match ${resource}`;
  }
  return {
    ...base,
    ...(pattern !== undefined ? { pattern } : {}),
    differs,
    actionMatches: actionOk,
    explanation,
  };
}
