import type { Piece } from '../wildcard.js';

/** One operator of a family, without `IfExists` and set qualifiers: `StringLike`, `NotIpAddress`. */
export interface BaseOperator<P> {
  /**
   * A negated operator (`StringNotEquals`, `NotIpAddress`, ...): true when no policy value matches, and
   * true when the key is absent from the request.
   */
  negated: boolean;
  /** Whether the request's value matches one policy value (before negation). */
  matches(request: string, value: P): boolean;
}

/** A family of condition operators that share how values are written and compared. */
export interface OperatorFamily<P> {
  /** What a value must look like, for error messages. */
  expects: string;
  /** Whether policy variables are put into this family's values (IAM: String, ARN and Bool). */
  variables: boolean;
  /** A policy value as the family compares it; `undefined` when it is not written as the family needs. */
  parse(pieces: readonly Piece[]): P | undefined;
  operators: Readonly<Record<string, BaseOperator<P>>>;
}

/** An operator family with its value type hidden, for the registry. */
export type AnyFamily = OperatorFamily<unknown>;

/**
 * The six operators of an ordered family (`Numeric*`, `Date*`): the request's value read with `read`
 * (a value it cannot read matches nothing) and compared with the policy's.
 */
export function orderedOperators(
  prefix: string,
  read: (text: string) => number | undefined,
): Record<string, BaseOperator<number>> {
  const compare =
    (test: (a: number, b: number) => boolean) =>
    (request: string, value: number): boolean => {
      const n = read(request);
      return n !== undefined && test(n, value);
    };
  const equal = compare((a, b) => a === b);
  return {
    [`${prefix}Equals`]: { negated: false, matches: equal },
    [`${prefix}NotEquals`]: { negated: true, matches: equal },
    [`${prefix}LessThan`]: { negated: false, matches: compare((a, b) => a < b) },
    [`${prefix}LessThanEquals`]: { negated: false, matches: compare((a, b) => a <= b) },
    [`${prefix}GreaterThan`]: { negated: false, matches: compare((a, b) => a > b) },
    [`${prefix}GreaterThanEquals`]: { negated: false, matches: compare((a, b) => a >= b) },
  };
}
