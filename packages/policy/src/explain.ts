import type { PolicyDecision, StatementOutcome } from './evaluate.js';
import type { ParsedStatement, PolicyStatementRef } from './grammar.js';
import { DBUSER_PARTS, type DbUserArnPart, differingParts } from './resource.js';

/** For a deny: the statement that came closest to allowing the request (or the Deny), and why. */
export interface PolicyNearestMiss extends PolicyStatementRef {
  /** The statement's `Resource` entry compared with the request, as written. */
  pattern?: string;
  /** That entry with the request's values put in for its policy variables. */
  resolved?: string;
  /** The ARN parts that differ, in ARN order; empty when something else is what differs. */
  differs: DbUserArnPart[];
  /** `false` when the statement's action list does not cover the requested action. */
  actionMatches: boolean;
  /** Context keys the request did not carry that this statement needs. */
  missing: string[];
  /** One sentence for a person: "policy.json Statement[0] allows ..., the login needs ...: the user differs". */
  explanation: string;
}

interface Evaluated {
  decision: PolicyDecision;
  determined: boolean;
  action: string;
  resource: string;
  statements: StatementOutcome[];
}

type LabelOf = (policy: number) => string;

const words = (missing: readonly string[]) => missing.join(', ');

/** Names the Deny that decided, or the Allow that came closest, and says what differs. */
export function nearestMiss(
  result: Evaluated,
  statements: readonly ParsedStatement[],
  labelOf: LabelOf,
): PolicyNearestMiss | undefined {
  const { action, resource } = result;
  const label = (r: PolicyStatementRef) =>
    `${labelOf(r.policy)} Statement[${r.statement}]${r.sid ? ` (Sid ${r.sid})` : ''}`;
  const miss = (
    o: PolicyStatementRef & { missing?: string[]; pattern?: StatementOutcome['pattern'] },
    explanation: string,
    extra: Partial<PolicyNearestMiss> = {},
  ): PolicyNearestMiss => ({
    policy: o.policy,
    statement: o.statement,
    effect: o.effect,
    ...(o.sid ? { sid: o.sid } : {}),
    ...(o.pattern ? { pattern: o.pattern.written } : {}),
    ...(o.pattern?.resolved ? { resolved: o.pattern.resolved } : {}),
    differs: [],
    actionMatches: true,
    missing: o.missing ?? [],
    explanation,
    ...extra,
  });
  if (result.decision === 'allow') return undefined;
  const outcomes = result.statements;
  if (result.decision === 'explicit-deny') {
    const deny =
      outcomes.find((o) => o.effect === 'Deny' && o.applies === true) ??
      outcomes.find((o) => o.effect === 'Deny' && o.applies === 'unknown');
    if (!deny) return undefined;
    if (deny.applies === 'unknown') {
      return miss(
        deny,
        `${label(deny)} may deny ${action} on ${resource}: it depends on ${words(deny.missing)}, which the request did not carry${deny.reason ? ` (${deny.reason})` : ''}; an explicit Deny wins over every Allow`,
      );
    }
    const absent = deny.missing.length
      ? ` (because the request has no ${words(deny.missing)})`
      : '';
    return miss(
      deny,
      `${label(deny)} denies ${action} on ${resource}${absent}; an explicit Deny wins over every Allow`,
    );
  }
  const allows = outcomes.filter((o) => o.effect === 'Allow');
  const maybe = allows.find((o) => o.applies === 'unknown');
  if (maybe) {
    return miss(
      maybe,
      `${label(maybe)} would allow ${action} on ${resource} depending on ${words(maybe.missing)}, which the request did not carry${maybe.reason ? ` (${maybe.reason})` : ''}`,
    );
  }
  // The closest Allow: a failed condition beats a differing resource, which beats a wrong action.
  let best: { o: StatementOutcome; differs: DbUserArnPart[]; score: number } | undefined;
  for (const o of allows) {
    const resolved = o.pattern?.resolved ?? o.pattern?.written;
    const resourceOk = o.pattern?.result !== false;
    const differs = resourceOk || !resolved ? [] : (differingParts(resolved, resource) ?? []);
    const score = resourceOk ? 0 : differs.length || DBUSER_PARTS;
    if (!best || score < best.score) best = { o, differs, score };
  }
  if (best) {
    const { o, differs } = best;
    const unresolved = o.pattern && !o.pattern.resolved && o.missing.length > 0;
    let explanation: string;
    if (o.pattern?.result !== false) {
      explanation = `${label(o)} allows ${action} on ${resource} only when its condition holds, and it does not: ${o.reason ?? 'the condition is false'}`;
    } else if (unresolved) {
      explanation = `${label(o)} allows ${o.pattern?.written}, but ${words(o.missing)} has no value in this request (and no default), so it matches nothing`;
    } else if (differs.length > 0) {
      const parts = differs.map((d) => d.replace('-', ' '));
      const shown = o.pattern?.resolved
        ? `${o.pattern.written} (here ${o.pattern.resolved})`
        : o.pattern?.written;
      explanation = `${label(o)} allows ${shown}, the login needs ${resource}: the ${parts.join(', the ')} ${differs.length === 1 ? 'differs' : 'differ'}`;
    } else {
      explanation = `${label(o)} allows ${o.pattern?.written ?? 'other resources'}, which does not match ${resource}`;
    }
    return miss(o, explanation, { differs });
  }
  const wrongAction = statements.find((s) => s.ref.effect === 'Allow');
  if (!wrongAction) return undefined;
  const first = wrongAction.resource?.[0]?.written;
  return miss(
    { ...wrongAction.ref, missing: [] },
    `${label(wrongAction.ref)} does not allow the action ${action} (rds:* is not rds-db:*)`,
    { actionMatches: false, ...(first ? { pattern: first } : {}) },
  );
}
