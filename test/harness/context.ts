import { inject } from 'vitest';
import { type DatabaseTarget, type Engine, HarnessError, isCi } from './discovery.js';
import type { HarnessContext } from './names.js';

declare module 'vitest' {
  export interface ProvidedContext {
    rdsIamHarness: HarnessContext;
  }
}

let context: HarnessContext | undefined;

/** The databases globalSetup found, and this run's id. */
export function harnessContext(): HarnessContext {
  if (context) return context;
  let provided: HarnessContext | undefined;
  try {
    provided = inject('rdsIamHarness');
  } catch {
    provided = undefined;
  }
  if (!provided) {
    throw new HarnessError(
      'the end-to-end harness has no databases: run the tests through test/vitest.config.ts, whose globalSetup (harness/global-setup.ts) discovers them',
    );
  }
  context = provided;
  return context;
}

/** The database for `engine`, or undefined when discovery found none (the suite is skipped). */
export function databaseFor(engine: Engine): DatabaseTarget | undefined {
  return harnessContext()[engine];
}

/** For `describe.runIf(hasDatabase('mysql'))`. Under CI=true globalSetup already failed the run. */
export function hasDatabase(engine: Engine): boolean {
  return databaseFor(engine) !== undefined;
}

/** The database for `engine`; throws (names what to set) when there is none. */
export function requireDatabase(engine: Engine): DatabaseTarget {
  const target = databaseFor(engine);
  if (target) return target;
  const why = harnessContext().skipped.find((s) => s.engine === engine)?.reason ?? 'not found';
  throw new HarnessError(
    `${engine} end-to-end: ${why}${isCi(process.env) ? ' (CI=true)' : ''}. Bind the suite to hasDatabase('${engine}').`,
  );
}

// ---- cleanup registry: everything the harness starts or creates is undone by cleanupHarness() ----

interface Cleanup {
  readonly label: string;
  readonly run: () => Promise<void>;
}

const cleanups: Cleanup[] = [];

/** Registers an undo step; returns a function that unregisters it (after it was run by hand). */
export function registerCleanup(label: string, run: () => Promise<void>): () => void {
  const entry: Cleanup = { label, run };
  cleanups.push(entry);
  return () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** How many undo steps are pending (emulators, providers, users). */
export function pendingCleanups(): readonly string[] {
  return cleanups.map((c) => c.label);
}

/**
 * Undoes everything the harness did in this file, newest first: providers closed, emulators stopped,
 * users' sessions ended, users and databases dropped. Runs after every test file (harness/setup.ts).
 */
export async function cleanupHarness(): Promise<void> {
  const errors: unknown[] = [];
  for (const entry of cleanups.splice(0).reverse()) {
    try {
      await entry.run();
    } catch (err) {
      errors.push(new Error(`cleanup of ${entry.label} failed`, { cause: err }));
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'end-to-end harness cleanup failed');
}
