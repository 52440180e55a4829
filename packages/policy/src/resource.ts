import { arnPartMatches, splitArn, splitArnPieces } from './arn.js';
import type { ContextReader } from './context.js';
import type { ResourcePattern } from './grammar.js';
import type { Tri } from './logic.js';
import { resolveTemplate, textOf } from './variables.js';
import { globMatches } from './wildcard.js';

/** A part of a dbuser ARN, in the order it is written. */
export type DbUserArnPart = 'partition' | 'service' | 'region' | 'account' | 'resource-id' | 'user';

/** How one `Resource` entry compares with the request's ARN. */
export interface PatternMatch {
  /** As written in the policy. */
  written: string;
  /** With the request's values put in for its variables, when it has variables. */
  resolved?: string;
  result: Tri;
  /** Variables' keys the request did not carry. */
  missing: string[];
}

/**
 * Compares one `Resource` entry with the ARN: variables first (a variable without a value and without
 * a default matches nothing), then part by part.
 */
export function matchResource(
  pattern: ResourcePattern,
  arn: string,
  reader: ContextReader,
): PatternMatch {
  if (pattern.written === '*') return { written: '*', result: true, missing: [] };
  const resolved = resolveTemplate(pattern.template, reader);
  const hasVariables = pattern.template.some((p) => 'key' in p);
  const base = { written: pattern.written, missing: resolved.missing };
  if (!resolved.pieces) return { ...base, result: false };
  const text = hasVariables && !resolved.unknown ? { resolved: textOf(resolved.pieces) } : {};
  const parts = splitArnPieces(resolved.pieces);
  const target = splitArn(arn);
  if (!parts || !target) return { ...base, ...text, result: false };
  const matches = arnPartMatches(parts, target).every(Boolean);
  return { ...base, ...text, result: matches ? (resolved.unknown ? 'unknown' : true) : false };
}

const PART_NAMES: readonly DbUserArnPart[] = [
  'partition',
  'service',
  'region',
  'account',
  'resource-id',
  'user',
];

/**
 * The dbuser ARN as six comparable parts: partition, service, region, account, resource id, user.
 * Anything else (a pattern not written as a dbuser ARN) has none.
 */
function dbUserParts(arn: string): string[] | undefined {
  const parts = splitArn(arn);
  if (!parts) return undefined;
  const m = /^dbuser:([^/]*)\/(.*)$/s.exec(parts[5] ?? '');
  if (!m) return undefined;
  return [parts[1] ?? '', parts[2] ?? '', parts[3] ?? '', parts[4] ?? '', m[1] ?? '', m[2] ?? ''];
}

/** The dbuser ARN parts in which `pattern` (variables put in) differs from `resource`. */
export function differingParts(pattern: string, resource: string): DbUserArnPart[] | undefined {
  const p = dbUserParts(pattern);
  const r = dbUserParts(resource);
  if (!p || !r) return undefined;
  return PART_NAMES.filter((_, i) => !globMatches(p[i] ?? '', r[i] ?? ''));
}

/** The number of dbuser ARN parts, the score of a pattern of unknown shape. */
export const DBUSER_PARTS = PART_NAMES.length;
