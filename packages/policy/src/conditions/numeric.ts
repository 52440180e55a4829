import { textOf } from '../variables.js';
import { type OperatorFamily, orderedOperators } from './family.js';

/** A number as IAM writes them: an integer or a decimal, optionally signed. */
export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(t) ? Number(t) : undefined;
}

/** `Numeric*`: the request's value read as a number; a value that is not a number matches nothing. */
export const NUMERIC: OperatorFamily<number> = {
  expects: 'a number (42, -1.5)',
  variables: false,
  parse: (pieces) => parseNumber(textOf(pieces)),
  operators: orderedOperators('Numeric', parseNumber),
};
