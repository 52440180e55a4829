import { RdsIamError } from '@rds-iam/core';
import {
  dbUserArn,
  evaluatePolicies,
  type PolicyDecision,
  type PolicyInput,
  type PolicyRequest,
  type RequestContext,
} from '../src/index.js';

export const ACCOUNT = '123456789012';
export const ARN = dbUserArn({
  region: 'eu-west-1',
  account: ACCOUNT,
  resourceId: 'db-ABC',
  user: 'alice',
});
export const DBUSER = `arn:aws:rds-db:eu-west-1:${ACCOUNT}:dbuser:db-ABC`;

/** A statement allowing rds-db:connect on `resource` (the login's ARN by default). */
export function allow(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { Effect: 'Allow', Action: 'rds-db:connect', Resource: ARN, ...extra };
}

/** A statement denying rds-db:connect on every dbuser. */
export function deny(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { Effect: 'Deny', Action: 'rds-db:connect', Resource: '*', ...extra };
}

/** A 2012-10-17 document of these statements. */
export function doc(...statements: Record<string, unknown>[]): PolicyInput {
  return { Version: '2012-10-17', Statement: statements };
}

/**
 * IAM's decision for a request that carries exactly `context` (absent keys are absent, as in a real
 * request): the decision AWS documents.
 */
export function decide(
  policies: PolicyInput | PolicyInput[],
  context: RequestContext = {},
  request: Partial<PolicyRequest> = {},
): PolicyDecision {
  return evaluatePolicies(Array.isArray(policies) ? policies : [policies], {
    resource: ARN,
    context,
    missing: 'absent',
    ...request,
  }).decision;
}

/** The code of the RdsIamError `fn` throws. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof RdsIamError) return err.code;
    throw err;
  }
  return 'no error';
}
