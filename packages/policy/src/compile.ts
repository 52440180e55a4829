import { type ParsedStatement, type PolicyInput, parsePolicy } from './grammar.js';

/**
 * Identity policies checked against IAM's grammar once, ready to evaluate any number of requests:
 * what {@link compilePolicies} returns and `evaluatePolicies` takes in place of the documents.
 */
export interface CompiledPolicies {
  /** What each document is called in explanations, by position: the name given, else `policy N`. */
  readonly names: readonly string[];
}

/** Options of {@link compilePolicies}. */
export interface CompilePoliciesOptions {
  /** What to call each document in explanations and errors (a file name), by position; `policy N` otherwise. */
  readonly names?: readonly string[];
}

// The statements stay out of the public type: the handle is opaque, and only this package reads it.
const STATEMENTS = new WeakMap<CompiledPolicies, readonly ParsedStatement[]>();

/**
 * Checks identity policies against IAM's grammar once (a document IAM would refuse throws a coded
 * `RdsIamError` naming it, as `evaluatePolicies` does) and returns them ready to evaluate: for a
 * caller that evaluates the same documents for many requests (several users, every login).
 *
 * @example
 * ```ts
 * const policies = compilePolicies([readFileSync('policy.json', 'utf8')], { names: ['policy.json'] });
 * for (const user of ['alice', 'bob']) {
 *   const arn = dbUserArn({ region: 'eu-west-1', account: '123456789012', resourceId: 'db-ABC', user });
 *   console.log(user, evaluatePolicies(policies, { resource: arn }).decision);
 * }
 * ```
 */
export function compilePolicies(
  inputs: readonly PolicyInput[],
  options: CompilePoliciesOptions = {},
): CompiledPolicies {
  const names = inputs.map((_, i) => options.names?.[i] ?? `policy ${i}`);
  const statements = inputs.flatMap((input, i) => parsePolicy(input, i, names[i] ?? ''));
  const compiled: CompiledPolicies = Object.freeze({ names: Object.freeze(names) });
  STATEMENTS.set(compiled, statements);
  return compiled;
}

/** The statements of `policies`: compiled here, or those of a handle from {@link compilePolicies}. */
export function statementsOf(
  policies: readonly PolicyInput[] | CompiledPolicies,
  options: CompilePoliciesOptions,
): { names: readonly string[]; statements: readonly ParsedStatement[] } {
  const compiled = Array.isArray(policies)
    ? compilePolicies(policies as readonly PolicyInput[], options)
    : (policies as CompiledPolicies);
  const statements = STATEMENTS.get(compiled);
  if (statements === undefined) {
    throw new TypeError(
      'evaluatePolicies takes an array of policy documents or what compilePolicies returned',
    );
  }
  return { names: compiled.names, statements };
}
