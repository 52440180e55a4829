import type { ContextReader } from './context.js';
import type { ConditionClause, ConditionValue } from './grammar.js';
import { allOf, anyOf, not, type Tri } from './logic.js';
import { resolveTemplate } from './variables.js';

/** What one operator-and-key of a `Condition` came to for a request. */
export interface ClauseOutcome {
  result: Tri;
  /** Keys the request did not carry that the outcome rests on (the key, or a variable's). */
  missing: string[];
  /** The clause and what the request had, for explanations. */
  reason: string;
}

/**
 * One clause, as IAM documents it: values of one key are ORed (NOR for a negated operator); a key the
 * request does not have makes a positive operator false and a negated one true, except `...IfExists`
 * (true), `ForAllValues:` (true), `ForAnyValue:` (false) and `Null` (which tests exactly that).
 */
export function evaluateClause(clause: ConditionClause, reader: ContextReader): ClauseOutcome {
  const { operator, key } = clause;
  const written = `${operator.name} {"${key}": ${JSON.stringify(clause.values.length === 1 ? clause.values[0]?.written : clause.values.map((v) => v.written))}}`;
  const found = reader.lookup(key);
  if (found.kind === 'unknown') {
    return { result: 'unknown', missing: [key], reason: `${written}: ${key} was not given` };
  }
  const present = found.kind === 'present' && found.values.length > 0;
  const requestValues = found.kind === 'present' ? found.values : [];
  const had = present
    ? `the request has ${key} = ${requestValues.map((v) => JSON.stringify(v)).join(', ')}`
    : `the request has no ${key}`;
  if (operator.family === null || operator.operator === null) {
    // Null: "true" asks for the key to be absent, "false" for it to be present.
    const result = clause.values.some((v) => (v.written.toLowerCase() === 'true') === !present);
    return { result, missing: present ? [] : [key], reason: `${written}: ${had}` };
  }
  if (!present) {
    const result =
      operator.ifExists || operator.set === 'ForAllValues'
        ? true
        : operator.set === 'ForAnyValue'
          ? false
          : operator.operator.negated;
    return { result, missing: [key], reason: `${written}: ${had}` };
  }
  const missing: string[] = [];
  const policyValues = clause.values.map((v) => policyValue(v, clause, reader, missing));
  const base = operator.operator;
  const single = (request: string): Tri => {
    const matched = anyOf(
      policyValues.map((p) => (p.kind === 'value' ? base.matches(request, p.value) : p.kind)),
    );
    return base.negated ? not(matched) : matched;
  };
  const perValue = requestValues.map(single);
  // A plain operator on a key with several values holds when one of them does, as ForAnyValue.
  const result = operator.set === 'ForAllValues' ? allOf(perValue) : anyOf(perValue);
  return { result, missing, reason: `${written}: ${had}` };
}

type PolicyValue = { kind: 'value'; value: unknown } | { kind: false } | { kind: 'unknown' };

function policyValue(
  v: ConditionValue,
  clause: ConditionClause,
  reader: ContextReader,
  missing: string[],
): PolicyValue {
  if ('parsed' in v) return { kind: 'value', value: v.parsed };
  const resolved = resolveTemplate(v.template, reader);
  missing.push(...resolved.missing);
  if (resolved.unknown) return { kind: 'unknown' };
  // A variable without a value (and no default) leaves a value that matches nothing.
  if (!resolved.pieces) return { kind: false };
  const parsed = clause.operator.family?.parse(resolved.pieces);
  return parsed === undefined ? { kind: false } : { kind: 'value', value: parsed };
}

/** A whole `Condition`: every clause must hold (AND). */
export interface ConditionOutcome {
  result: Tri;
  missing: string[];
  /** The first clause that does not hold (or cannot be told), for explanations. */
  failed?: string;
}

/** Evaluates a statement's clauses together. */
export function evaluateConditions(
  clauses: readonly ConditionClause[],
  reader: ContextReader,
): ConditionOutcome {
  const outcomes = clauses.map((c) => evaluateClause(c, reader));
  const result = allOf(outcomes.map((o) => o.result));
  const failed =
    outcomes.find((o) => o.result === false) ?? outcomes.find((o) => o.result === 'unknown');
  return {
    result,
    missing: [...new Set(outcomes.flatMap((o) => o.missing))],
    ...(failed && result !== true ? { failed: failed.reason } : {}),
  };
}
