import { arnPartMatches, splitArn, splitArnPieces } from '../arn.js';
import { textOf } from '../variables.js';
import type { Piece } from '../wildcard.js';
import type { OperatorFamily } from './family.js';

/** A policy ARN value: its six parts, or `*` alone for any ARN. */
type ArnPattern = Piece[][] | '*';

const like = (request: string, value: ArnPattern) => {
  const arn = splitArn(request);
  if (!arn) return false;
  return value === '*' || arnPartMatches(value, arn).every(Boolean);
};

/**
 * `ArnEquals` and `ArnLike` are the same test (IAM documents both with wildcards), part by part; the
 * `Not` pair negates it. A request value that is not an ARN matches nothing.
 */
export const ARN: OperatorFamily<ArnPattern> = {
  expects: 'an ARN (arn:aws:iam::123456789012:role/app, wildcards allowed)',
  variables: true,
  parse: (pieces) => (textOf(pieces) === '*' ? '*' : splitArnPieces(pieces)),
  operators: {
    ArnEquals: { negated: false, matches: like },
    ArnLike: { negated: false, matches: like },
    ArnNotEquals: { negated: true, matches: like },
    ArnNotLike: { negated: true, matches: like },
  },
};
