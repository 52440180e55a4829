import { ARN } from './conditions/arn.js';
import { BINARY } from './conditions/binary.js';
import { BOOL } from './conditions/bool.js';
import { DATE } from './conditions/date.js';
import type { AnyFamily, BaseOperator } from './conditions/family.js';
import { IP } from './conditions/ip.js';
import { NUMERIC } from './conditions/numeric.js';
import { STRING } from './conditions/string.js';

const FAMILIES = [STRING, NUMERIC, DATE, BOOL, BINARY, IP, ARN] as unknown as AnyFamily[];

/** A condition operator as written: `ForAnyValue:StringLikeIfExists` is StringLike, any value, if exists. */
export interface Operator {
  /** As written in the policy. */
  name: string;
  /** Without qualifier and `IfExists`: `StringLike`, or `Null`. */
  base: string;
  /** The family that reads and compares values; `null` for the `Null` operator. */
  family: AnyFamily | null;
  operator: BaseOperator<unknown> | null;
  ifExists: boolean;
  set?: 'ForAnyValue' | 'ForAllValues';
}

/** Every operator name without qualifier or `IfExists`. */
export const BASE_OPERATORS: readonly string[] = [
  ...FAMILIES.flatMap((f) => Object.keys(f.operators)),
  'Null',
];

/** The operator written as `name`, or `undefined` when IAM has none by that name (names are case-sensitive). */
export function parseOperator(name: string): Operator | undefined {
  let rest = name;
  let set: Operator['set'];
  const qualifier = /^(ForAnyValue|ForAllValues):/.exec(rest);
  if (qualifier) {
    set = qualifier[1] as Operator['set'];
    rest = rest.slice(qualifier[0].length);
  }
  let ifExists = false;
  if (rest.endsWith('IfExists')) {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  if (rest === 'Null') {
    // Null tests presence itself: neither IfExists nor a set qualifier means anything to it.
    if (ifExists || set) return undefined;
    return { name, base: 'Null', family: null, operator: null, ifExists };
  }
  for (const family of FAMILIES) {
    const operator = family.operators[rest];
    if (operator) return { name, base: rest, family, operator, ifExists, ...(set ? { set } : {}) };
  }
  return undefined;
}

/** The operator name closest to a misspelled one, for the error message. */
export function closestOperator(name: string): string | undefined {
  const bare = name.replace(/^(ForAnyValue|ForAllValues):/i, '').replace(/IfExists$/i, '');
  return closest(bare, BASE_OPERATORS);
}

/** The candidate nearest to `word` by edit distance (case-insensitive), if it is near at all. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (!best || d < best.d) best = { c, d };
  }
  return best && best.d <= Math.max(2, Math.floor(word.length / 4)) ? best.c : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = row[j] ?? 0;
      row[j] = Math.min(next + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = next;
    }
  }
  return row[b.length] ?? 0;
}
