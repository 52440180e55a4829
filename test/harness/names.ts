import { randomBytes } from 'node:crypto';
import type { DatabaseTarget, SkippedSuite } from './discovery.js';

/** What globalSetup (harness/global-setup.ts) hands every test file. */
export interface HarnessContext {
  /** Part of every name the harness creates: `rdsiam_e2e_<runId>_<hex>`. Base-36 start time. */
  readonly runId: string;
  readonly postgres: DatabaseTarget | undefined;
  readonly mysql: DatabaseTarget | undefined;
  readonly skipped: readonly SkippedSuite[];
}

/** Prefix of every user and database the harness creates. */
export const NAME_PREFIX = 'rdsiam_e2e_';
/** `rdsiam_e2e_<runId: 8+ base-36 chars>_<6 hex>`. */
export const NAME_PATTERN = /^rdsiam_e2e_([0-9a-z]{8,})_[0-9a-f]{6}$/;

/** A new run id: the current time in base 36, so that stale leftovers can be told by age. */
export function newRunId(now = Date.now()): string {
  return now.toString(36);
}

/** The start time encoded in a harness name, or undefined for names the harness did not make. */
export function runStartOf(name: string): number | undefined {
  const m = NAME_PATTERN.exec(name);
  return m?.[1] ? Number.parseInt(m[1], 36) : undefined;
}

export function uniqueName(runId: string): string {
  return `${NAME_PREFIX}${runId}_${randomBytes(3).toString('hex')}`;
}
