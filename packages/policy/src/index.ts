/**
 * `@rds-iam/policy`: IAM policy evaluation for one `rds-db:connect` request, as IAM documents it:
 * IAM's grammar checks, every condition operator family, policy variables with defaults, and the
 * request context (`aws:SourceIp`, `aws:CurrentTime`, the principal and its tags, ...). A tool for the
 * rds-iam CLI, doctor and emulator; applications that only log in need `@rds-iam/core` alone.
 *
 * @example
 * ```ts
 * import { dbUserArn, evaluatePolicies, principalContext } from '@rds-iam/policy';
 *
 * const result = evaluatePolicies([policyJson], {
 *   resource: dbUserArn({ region: 'eu-west-1', account: '123456789012', resourceId: 'db-ABC', user: 'alice' }),
 *   context: principalContext('arn:aws:iam::123456789012:user/alice', { team: 'db' }),
 * });
 * console.log(result.decision, result.missingContext);
 * ```
 * @packageDocumentation
 */
export { type DbUserArnParts, dbUserArn } from './arn.js';
export {
  type CompiledPolicies,
  type CompilePoliciesOptions,
  compilePolicies,
} from './compile.js';
export { parseDate } from './conditions/date.js';
export {
  type ContextValue,
  type MissingKeys,
  normalizeSourceIp,
  type PrincipalType,
  parseContextAssignment,
  principalContext,
  type RequestContext,
  validateContext,
} from './context.js';
export {
  type EvaluatePoliciesOptions,
  evaluatePolicies,
  type PolicyDecision,
  type PolicyEvaluation,
  type PolicyRequest,
  parsePolicyDocument,
  type StatementOutcome,
} from './evaluate.js';
export type { PolicyNearestMiss } from './explain.js';
export type { PolicyInput, PolicyStatementRef } from './grammar.js';
export type { Tri } from './logic.js';
export type { DbUserArnPart, PatternMatch } from './resource.js';
