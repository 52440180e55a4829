import { textOf } from '../variables.js';
import type { OperatorFamily } from './family.js';

/** A number as IAM writes them: an integer or a decimal, optionally signed. */
export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(t) ? Number(t) : undefined;
}

function compare(test: (a: number, b: number) => boolean) {
  return (request: string, value: number) => {
    const n = parseNumber(request);
    return n !== undefined && test(n, value);
  };
}

/** `Numeric*`: the request's value read as a number; a value that is not a number matches nothing. */
export const NUMERIC: OperatorFamily<number> = {
  expects: 'a number (42, -1.5)',
  variables: false,
  parse: (pieces) => parseNumber(textOf(pieces)),
  operators: {
    NumericEquals: { negated: false, matches: compare((a, b) => a === b) },
    NumericNotEquals: { negated: true, matches: compare((a, b) => a === b) },
    NumericLessThan: { negated: false, matches: compare((a, b) => a < b) },
    NumericLessThanEquals: { negated: false, matches: compare((a, b) => a <= b) },
    NumericGreaterThan: { negated: false, matches: compare((a, b) => a > b) },
    NumericGreaterThanEquals: { negated: false, matches: compare((a, b) => a >= b) },
  },
};
