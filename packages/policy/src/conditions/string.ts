import { textOf } from '../variables.js';
import { type Piece, wildcardRegExp } from '../wildcard.js';
import type { OperatorFamily } from './family.js';

const exact = (request: string, value: readonly Piece[]) => request === textOf(value);
const ignoreCase = (request: string, value: readonly Piece[]) =>
  request.toLowerCase() === textOf(value).toLowerCase();
const like = (request: string, value: readonly Piece[]) => wildcardRegExp(value).test(request);

/**
 * `StringEquals` and `StringNotEquals` compare exactly and case-sensitively (a `*` is a character),
 * the `IgnoreCase` pair ignores case, `StringLike` / `StringNotLike` take `*` and `?` wildcards.
 */
export const STRING: OperatorFamily<readonly Piece[]> = {
  expects: 'a string',
  variables: true,
  parse: (pieces) => pieces,
  operators: {
    StringEquals: { negated: false, matches: exact },
    StringNotEquals: { negated: true, matches: exact },
    StringEqualsIgnoreCase: { negated: false, matches: ignoreCase },
    StringNotEqualsIgnoreCase: { negated: true, matches: ignoreCase },
    StringLike: { negated: false, matches: like },
    StringNotLike: { negated: true, matches: like },
  },
};
