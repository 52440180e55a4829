// The tests of the Prisma examples (examples/prisma-postgres, examples/prisma-mysql), the same for
// both engines: each file registers them inside its own describe block.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAuthToken } from '@rds-iam/core';
import { expect, test } from 'vitest';
import {
  databaseFor,
  type Engine,
  exampleEnv,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';
import {
  adminUrl,
  EXAMPLES,
  exampleSummary,
  loadExampleConfigUrl,
  PRISMA_PACKAGE,
  runExample,
  snippet,
} from './prisma-helpers.js';

/** What each example prints about the data it wrote (exampleSummary of its output). */
const SUMMARY = { posts: 2, users: 1, published: 1, publishedAfter: 2, deleted: 2 };

/** The environment variable through which an example finds the local database with no RDS_* set. */
const LOCAL_URL_VARIABLE: Readonly<Record<Engine, string>> = {
  postgres: 'RDS_IAM_EXAMPLE_POSTGRES_URL',
  mysql: 'RDS_IAM_EXAMPLE_MYSQL_URL',
};

/**
 * Registers the example tests for `engine`: `pnpm start` with no configuration, `pnpm start` where
 * RDS_* say plus the Prisma CLI's view of prisma.config.ts, and the README's copies of the snippets.
 *
 * @param app the IAM user of the enclosing suite (created in its beforeAll).
 * @param loginWithUrl logs in with a URL's user and token as the Prisma CLI's engine would.
 */
export function exampleTests(
  engine: Engine,
  app: () => IamUser,
  loginWithUrl: (url: URL, endpoint: IamEndpoint) => Promise<void>,
): void {
  const name = `prisma-${engine}`;

  test.runIf(databaseFor(engine)?.enforcesLoginUser === true)(
    `examples/${name}: \`pnpm start\` runs against the local emulator with no configuration`,
    async () => {
      const target = databaseFor(engine);
      if (!target) throw new Error('no database');
      const run = await runExample(engine, { [LOCAL_URL_VARIABLE[engine]]: adminUrl(target) });
      expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({
        code: 0,
        stderr: '',
      });
      expect(run.stdout).toMatch(/^logged in as rds_iam_example with an IAM token$/m);
      expect(exampleSummary(run.stdout)).toEqual(SUMMARY);
      expect(run.stdout + run.stderr).not.toMatch(/X-Amz-Signature|Amz-Credential/);
    },
  );

  test(`examples/${name} logs in where RDS_* say, and its prisma.config.ts gives the Prisma CLI a working IAM URL`, async () => {
    const user = app();
    // The example runs on the real clock: a fresh emulator, whose clock was never moved.
    const fresh = await startIamEndpoint(engine);
    const ca = join(EXAMPLES[engine], 'generated', 'emulator-ca.pem');
    writeFileSync(ca, fresh.ca);
    const env = exampleEnv(fresh, user, ca);
    const run = await runExample(engine, env);
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({
      code: 0,
      stderr: '',
    });
    if (databaseFor(engine)?.enforcesLoginUser) {
      expect(run.stdout).toContain(`logged in as ${user.user} with an IAM token`);
    }
    expect(exampleSummary(run.stdout)).toEqual(SUMMARY);
    expect(fresh.emulator.counters()).toMatchObject({ rejected: 0 });
    expect(fresh.emulator.counters().accepted).toBeGreaterThan(0);

    // prisma.config.ts through the Prisma CLI's own loader (top-level await, iamDatabaseUrl), as
    // `prisma migrate deploy` loads it: its URL carries a token that logs in.
    fresh.emulator.resetCounters();
    const url = new URL(await loadExampleConfigUrl(engine, env));
    expect(url.searchParams.get('sslaccept')).toBe('strict');
    expect(readFileSync(url.searchParams.get('sslcert') ?? '', 'utf8').trim()).toBe(
      fresh.ca.trim(),
    );
    expect(parseAuthToken(decodeURIComponent(url.password)).user).toBe(user.user);
    await loginWithUrl(url, fresh);
    expect(fresh.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
    await fresh.stop();
  });

  test("the package README shows the examples' snippets word for word", () => {
    const readme = readFileSync(join(PRISMA_PACKAGE, 'README.md'), 'utf8');
    const app = snippet(join(EXAMPLES[engine], 'src/index.ts'), name);
    const config = snippet(join(EXAMPLES[engine], 'prisma.config.ts'), `prisma-config-${engine}`);
    expect(readme).toContain(`\`\`\`ts\n${app}\`\`\``);
    expect(readme).toContain(`\`\`\`ts\n${config}\`\`\``);
  });
}
