import { RdsIamError, type RdsIamErrorCode } from '@rds-iam/core';

/** IAM's grammar page: every grammar error links it. */
export const GRAMMAR_URL =
  'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html';

/** Where in the documents a grammar error is: the document's label and, inside it, the statement. */
export interface Where {
  /** `policy 0`, or the name the caller gave the document (a file name). */
  label: string;
  statement?: number;
}

/** A document IAM would refuse: the error says where, what, and that IAM refuses it too. */
export function grammarError(
  code: RdsIamErrorCode,
  where: Where,
  what: string,
  url = GRAMMAR_URL,
): RdsIamError {
  const at = where.statement === undefined ? '' : ` Statement[${where.statement}]`;
  return new RdsIamError(code, `${where.label}${at}: ${what}; IAM refuses this document (${url})`);
}
