import { partitionOfRegion } from '@rds-iam/core';
import { type Piece, wildcardRegExp } from './wildcard.js';

/**
 * An ARN as its six parts: `arn`, partition, service, region, account, resource. The resource part may
 * hold colons itself (`dbuser:db-ABC/app`) and is kept whole. `undefined` when it is not an ARN.
 */
export function splitArn(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/** {@link splitArn} for a pattern cut into pieces (variables put in): six lists of pieces. */
export function splitArnPieces(pieces: readonly Piece[]): Piece[][] | undefined {
  const parts: Piece[][] = [[]];
  for (const piece of pieces) {
    const cut = piece.text.split(':');
    cut.forEach((text, i) => {
      if (i > 0) {
        if (parts.length < 6) parts.push([]);
        else parts[5]?.push({ text: ':', literal: true });
      }
      if (text) parts[parts.length - 1]?.push({ text, literal: piece.literal });
    });
  }
  if (parts.length < 6) return undefined;
  const first = parts[0]?.map((p) => p.text).join('');
  return first === 'arn' ? parts : undefined;
}

/**
 * Which of the six parts of `arn` the pattern's parts match. IAM compares an ARN part by part: a
 * wildcard in the region does not reach into the account. Case-sensitive.
 */
export function arnPartMatches(pattern: readonly Piece[][], arn: readonly string[]): boolean[] {
  return pattern.map((part, i) => wildcardRegExp(part).test(arn[i] ?? ''));
}

/** The parts of a dbuser ARN; see {@link dbUserArn}. */
export interface DbUserArnParts {
  region: string;
  account: string;
  /** `db-...` (instance), `cluster-...` (Aurora cluster) or `prx-...` (RDS Proxy). */
  resourceId: string;
  user: string;
  /** Follows the region when omitted (`aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, ...). */
  partition?: string;
}

/**
 * The ARN IAM evaluates for a login: `arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`.
 *
 * @example
 * ```ts
 * dbUserArn({ region: 'eu-west-1', account: '123456789012', resourceId: 'db-ABC', user: 'app' });
 * // 'arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABC/app'
 * ```
 */
export function dbUserArn(parts: DbUserArnParts): string {
  const partition = parts.partition ?? partitionOfRegion(parts.region);
  return `arn:${partition}:rds-db:${parts.region}:${parts.account}:dbuser:${parts.resourceId}/${parts.user}`;
}
