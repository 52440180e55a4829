import type { TestProject } from 'vitest/node';
import { type DatabaseTarget, discoverDatabases, ENGINES } from './discovery.js';
import { type HarnessContext, NAME_PATTERN, newRunId, runStartOf } from './names.js';
import { dropNames, listHarnessObjects } from './objects.js';

/** Leftovers of runs older than this (killed runs) are dropped at the start of a run. */
const STALE_AFTER_MS = 2 * 60 * 60_000;

/**
 * Vitest globalSetup of the end-to-end suite: finds the databases once for all test files (and
 * starts PGlite or containers when needed), hands them to the files through `inject`, and at the end
 * stops what it started, checks that no user or database of this run is left, and names the suites
 * that were skipped. Under CI=true a missing database fails the run here.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = newRunId();
  const discovery = await discoverDatabases();
  const targets = ENGINES.map((e) => discovery[e]).filter((t): t is DatabaseTarget => !!t);
  for (const target of targets) await sweep(target, (name) => isStale(name, runId));

  const context: HarnessContext = {
    runId,
    postgres: discovery.postgres,
    mysql: discovery.mysql,
    skipped: discovery.skipped,
  };
  project.provide('rdsIamHarness', context);
  for (const t of targets) {
    console.log(`end-to-end ${t.engine}: ${t.description} (${t.version})`);
  }

  return async () => {
    const leaks: string[] = [];
    for (const target of targets) {
      const left = await sweep(target, (name) => name.includes(`_${runId}_`));
      leaks.push(...left.map((n) => `${target.engine} ${n}`));
    }
    await discovery.stop();
    for (const s of discovery.skipped) {
      console.log(`skipped: ${s.engine} end-to-end (${s.reason})`);
    }
    if (leaks.length > 0) {
      throw new Error(
        `the end-to-end harness left users or databases behind (now dropped): ${leaks.join(', ')}`,
      );
    }
  };
}

function isStale(name: string, runId: string): boolean {
  const started = runStartOf(name);
  const now = Number.parseInt(runId, 36);
  return started !== undefined && now - started > STALE_AFTER_MS;
}

/** Drops harness users and databases that `select` picks; returns their names. */
async function sweep(target: DatabaseTarget, select: (name: string) => boolean): Promise<string[]> {
  const { users, databases } = await listHarnessObjects(target);
  const names = [...new Set([...users, ...databases])].filter(
    (n) => NAME_PATTERN.test(n) && select(n),
  );
  await dropNames(target, names);
  return names;
}
