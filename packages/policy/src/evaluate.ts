import { type CompiledPolicies, type CompilePoliciesOptions, statementsOf } from './compile.js';
import { evaluateConditions } from './condition.js';
import {
  type ContextReader,
  contextReader,
  type MissingKeys,
  type RequestContext,
  validateContext,
} from './context.js';
import { nearestMiss, type PolicyNearestMiss } from './explain.js';
import {
  type ParsedStatement,
  type PolicyInput,
  type PolicyStatementRef,
  parsePolicy,
  toDocument,
} from './grammar.js';
import { allOf, anyOf, not, type Tri } from './logic.js';
import { DBUSER_PARTS, differingParts, matchResource, type PatternMatch } from './resource.js';
import { globMatches } from './wildcard.js';

/**
 * What IAM decides for one request: `allow` (an Allow statement matched and no Deny did),
 * `explicit-deny` (a Deny statement matched; it wins over any Allow) or `implicit-deny` (nothing
 * allowed it: IAM's default).
 */
export type PolicyDecision = 'allow' | 'implicit-deny' | 'explicit-deny';

/** How one statement whose action covers the request came out. */
export interface StatementOutcome extends PolicyStatementRef {
  /** Whether it applies to the request: resource and condition; `unknown` when the context did not say. */
  applies: Tri;
  /** Context keys the request did not carry that this outcome rests on. */
  missing: string[];
  /** When it does not apply (or may not): the resource or condition that does not hold. */
  reason?: string;
  /** The `Resource` entry closest to the request, with its variables put in. */
  pattern?: PatternMatch;
}

/** The result of {@link evaluatePolicies}. */
export interface PolicyEvaluation {
  /**
   * IAM's decision. When {@link PolicyEvaluation.determined} is false it is the most restrictive
   * decision the missing keys allow (`explicit-deny` if a Deny may apply, else `implicit-deny`): a
   * decision that rests on keys the request did not carry is never an `allow`.
   */
  decision: PolicyDecision;
  /** False when the decision depends on context keys that were not given (see `missingContext`). */
  determined: boolean;
  /**
   * Context keys the request did not carry that the decision rests on. With `missing: 'absent'` the
   * decision is IAM's for a request without them; with `'unknown'` the decision is undetermined.
   */
  missingContext: string[];
  /** For an undetermined decision: IAM's decision if the missing keys are really absent from the request. */
  ifAbsent?: PolicyDecision;
  /** The action evaluated, for example `rds-db:connect`. */
  action: string;
  /** The resource ARN evaluated. */
  resource: string;
  /**
   * The statement that decided: the first applying Deny for `explicit-deny`, the first applying Allow
   * for `allow`; absent for `implicit-deny`.
   */
  decidedBy?: PolicyStatementRef;
  /** Every statement whose action covers the request, in document order, with how it came out. */
  statements: StatementOutcome[];
  /** For a deny, the Allow statement that came closest and why it does not allow; or the deciding Deny. */
  nearestMiss?: PolicyNearestMiss;
}

/** One request to evaluate. */
export interface PolicyRequest {
  /** The resource ARN, for example from `dbUserArn`. */
  resource: string;
  /** The action; `rds-db:connect` when omitted. */
  action?: string;
  /** The request context: `aws:SourceIp`, `aws:CurrentTime`, `aws:username`, `aws:PrincipalTag/team`, ... */
  context?: RequestContext;
  /**
   * How to read a key `context` does not have: `unknown` (default: it was not given, and a decision that
   * depends on it is undetermined) or `absent` (the request has no such key: IAM's rules for absent keys).
   */
  missing?: MissingKeys;
  /**
   * With `missing: 'unknown'`: keys (or prefixes ending in `/`, such as `aws:PrincipalTag/`) whose
   * absence from `context` is known, because everything under them was given.
   */
  complete?: readonly string[];
}

/** Options of {@link evaluatePolicies} for documents (a compiled handle has its names already). */
export type EvaluatePoliciesOptions = CompilePoliciesOptions;

/**
 * Evaluates identity policies as IAM does for one request (by default `rds-db:connect`): IAM's grammar
 * first (a document IAM would refuse throws a coded {@link RdsIamError}, never decides), then default
 * deny, an explicit Deny wins over any Allow, `Action`/`NotAction`, `Resource`/`NotResource` with
 * wildcards and policy variables (in `2012-10-17` documents), and `Condition` with every operator family,
 * `...IfExists`, `ForAnyValue:` / `ForAllValues:` and IAM's rules for keys absent from the request.
 * A decision that rests on a key the request did not carry lists it in `missingContext`, and is never an
 * allow when the key was merely not given. `policies` is the documents, or what `compilePolicies`
 * returned for them: a caller that evaluates the same documents for many requests compiles them once.
 *
 * @example
 * ```ts
 * const result = evaluatePolicies([policyJson], {
 *   resource: dbUserArn({ region: 'eu-west-1', account: '123456789012', resourceId: 'db-ABC', user: 'alice' }),
 *   context: { ...principalContext('arn:aws:iam::123456789012:user/alice'), 'aws:SourceIp': '10.0.0.7' },
 * });
 * if (result.decision !== 'allow') console.error(result.nearestMiss?.explanation);
 * ```
 */
export function evaluatePolicies(
  policies: CompiledPolicies,
  request: PolicyRequest,
): PolicyEvaluation;
export function evaluatePolicies(
  policies: readonly PolicyInput[],
  request: PolicyRequest,
  options?: EvaluatePoliciesOptions,
): PolicyEvaluation;
export function evaluatePolicies(
  policies: readonly PolicyInput[] | CompiledPolicies,
  request: PolicyRequest,
  options: EvaluatePoliciesOptions = {},
): PolicyEvaluation {
  const { names, statements } = statementsOf(policies, options);
  const labelOf = (i: number) => names[i] ?? `policy ${i}`;
  const context = request.context ?? {};
  validateContext(context);
  const action = request.action ?? 'rds-db:connect';
  const { resource } = request;
  const mode = request.missing ?? 'unknown';
  const run = (m: MissingKeys) =>
    decide(statements, action, resource, contextReader(context, m, request.complete));
  const outcome = run(mode);
  const missingContext = dependsOn(outcome.statements);
  const base = {
    ...outcome,
    missingContext,
    action,
    resource,
    ...(outcome.determined ? {} : { ifAbsent: run('absent').decision }),
  };
  const miss = nearestMiss(base, statements, labelOf);
  return { ...base, ...(miss ? { nearestMiss: miss } : {}) };
}

interface Decided {
  decision: PolicyDecision;
  determined: boolean;
  decidedBy?: PolicyStatementRef;
  statements: StatementOutcome[];
}

function decide(
  statements: readonly ParsedStatement[],
  action: string,
  resource: string,
  reader: ContextReader,
): Decided {
  const outcomes = statements
    .filter((s) => actionMatches(s, action))
    .map((s) => statementOutcome(s, resource, reader));
  const denies = outcomes.filter((o) => o.effect === 'Deny');
  const allows = outcomes.filter((o) => o.effect === 'Allow');
  const ref = (o: StatementOutcome): PolicyStatementRef => ({
    policy: o.policy,
    statement: o.statement,
    effect: o.effect,
    ...(o.sid ? { sid: o.sid } : {}),
  });
  const deny = denies.find((o) => o.applies === true);
  if (deny) {
    return {
      decision: 'explicit-deny',
      determined: true,
      decidedBy: ref(deny),
      statements: outcomes,
    };
  }
  if (denies.some((o) => o.applies === 'unknown')) {
    return { decision: 'explicit-deny', determined: false, statements: outcomes };
  }
  const allow = allows.find((o) => o.applies === true);
  if (allow)
    return { decision: 'allow', determined: true, decidedBy: ref(allow), statements: outcomes };
  const determined = !allows.some((o) => o.applies === 'unknown');
  return { decision: 'implicit-deny', determined, statements: outcomes };
}

/**
 * The keys the decision rests on: nothing when a Deny applies without them; else those of every Deny,
 * and of every Allow unless one applies without any missing key.
 */
function dependsOn(outcomes: readonly StatementOutcome[]): string[] {
  const firm = (effect: 'Allow' | 'Deny') =>
    outcomes.some((o) => o.effect === effect && o.applies === true && o.missing.length === 0);
  if (firm('Deny')) return [];
  const allowFirm = firm('Allow');
  const relevant = outcomes.filter((o) => o.effect === 'Deny' || !allowFirm);
  return [...new Set(relevant.flatMap((o) => o.missing))];
}

/** Action names are case-insensitive in IAM: "RDS-DB:Connect" allows rds-db:connect. */
export function actionMatches(s: ParsedStatement, action: string): boolean {
  const match = (p: string) => globMatches(p, action, true);
  return s.action ? s.action.some(match) : !(s.notAction ?? []).some(match);
}

function statementOutcome(
  s: ParsedStatement,
  resource: string,
  reader: ContextReader,
): StatementOutcome {
  const patterns = (s.resource ?? s.notResource ?? []).map((p) =>
    matchResource(p, resource, reader),
  );
  const anyPattern = anyOf(patterns.map((p) => p.result));
  const resourceResult = s.resource ? anyPattern : not(anyPattern);
  const pattern =
    patterns.find((p) => p.result === true) ??
    patterns.find((p) => p.result === 'unknown') ??
    closestPattern(patterns, resource);
  const conditions = evaluateConditions(s.conditions, reader);
  const applies = allOf([resourceResult, conditions.result]);
  const resourceMissing = [...new Set(patterns.flatMap((p) => p.missing))];
  // A part that fails without any missing key settles it: the other part's missing keys do not matter.
  const settled =
    (resourceResult === false && resourceMissing.length === 0) ||
    (conditions.result === false && conditions.missing.length === 0);
  const missing = settled ? [] : [...new Set([...resourceMissing, ...conditions.missing])];
  const reason =
    resourceResult !== true
      ? `${s.notResource ? 'NotResource' : 'Resource'} ${patterns.map((p) => p.written).join(', ')}${pattern?.resolved ? ` (here ${pattern.resolved})` : ''} ${resourceResult === false ? (s.notResource ? 'covers' : 'does not cover') : 'may cover'} ${resource}`
      : conditions.failed;
  return {
    ...s.ref,
    applies,
    missing,
    ...(reason ? { reason } : {}),
    ...(pattern ? { pattern } : {}),
  };
}

/** Of patterns that do not match, the one whose dbuser ARN differs in the fewest parts. */
function closestPattern(
  patterns: readonly PatternMatch[],
  resource: string,
): PatternMatch | undefined {
  const score = (p: PatternMatch) =>
    differingParts(p.resolved ?? p.written, resource)?.length ?? DBUSER_PARTS + 1;
  return [...patterns].sort((a, b) => score(a) - score(b))[0];
}

/**
 * Checks that `input` is an identity policy document IAM would accept and returns it parsed. Throws
 * what {@link evaluatePolicies} throws for it.
 *
 * @example
 * ```ts
 * parsePolicyDocument(readFileSync('policy.json', 'utf8'), { name: 'policy.json' });
 * ```
 */
export function parsePolicyDocument(
  input: PolicyInput,
  options: { name?: string } = {},
): Record<string, unknown> {
  const label = options.name ?? 'policy 0';
  const doc = toDocument(input, label);
  parsePolicy(doc, 0, label);
  return doc;
}
