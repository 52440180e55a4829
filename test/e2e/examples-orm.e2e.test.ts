import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  databaseFor,
  ENGINES,
  type Engine,
  exampleEnv,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';
import { MIKRO_ORM_MAJOR, MIKRO_ORM_ONLY } from '../harness/mikro-orm.js';

// The knex, TypeORM, Sequelize and MikroORM examples, run the way a reader runs them (`pnpm --filter ... start` is
// `node index.mjs` in the example's folder): with no RDS_* variables (the example starts the emulator
// in front of the local database itself), and with RDS_* variables and AWS keys in the environment,
// as against real RDS (here: an emulator the test starts, reached the way a tunnel is). And the package
// READMEs' quick starts, which must be the examples' snippet regions verbatim.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Example {
  readonly dir: string;
  readonly engine: Engine;
  readonly snippet: string;
  /** The package README that shows the snippet. */
  readonly readme: string;
  /** The MikroORM major the example installs: it runs in the run that loaded that one. */
  readonly mikroOrm?: number;
}

const ALL_EXAMPLES: readonly Example[] = [
  { dir: 'knex-postgres', engine: 'postgres', snippet: 'knex-postgres', readme: 'packages/knex' },
  { dir: 'knex-mysql', engine: 'mysql', snippet: 'knex-mysql', readme: 'packages/knex' },
  {
    dir: 'typeorm-postgres',
    engine: 'postgres',
    snippet: 'typeorm-postgres',
    readme: 'packages/typeorm',
  },
  { dir: 'typeorm-mysql', engine: 'mysql', snippet: 'typeorm-mysql', readme: 'packages/typeorm' },
  {
    dir: 'sequelize-postgres',
    engine: 'postgres',
    snippet: 'sequelize-postgres',
    readme: 'packages/sequelize',
  },
  {
    dir: 'sequelize-mysql',
    engine: 'mysql',
    snippet: 'sequelize-mysql',
    readme: 'packages/sequelize',
  },
  {
    dir: 'mikro-orm-postgres',
    engine: 'postgres',
    snippet: 'mikro-orm-postgres',
    readme: 'packages/mikro-orm',
    mikroOrm: 6,
  },
  {
    dir: 'mikro-orm-mysql',
    engine: 'mysql',
    snippet: 'mikro-orm-mysql',
    readme: 'packages/mikro-orm',
    mikroOrm: 6,
  },
  // MikroORM 7 (Node.js 22.17+): the same quick start, run by test/mikro-orm-7.
  {
    dir: 'mikro-orm-7-postgres',
    engine: 'postgres',
    snippet: 'mikro-orm-7-postgres',
    readme: 'packages/mikro-orm',
    mikroOrm: 7,
  },
  {
    dir: 'mikro-orm-7-mysql',
    engine: 'mysql',
    snippet: 'mikro-orm-7-mysql',
    readme: 'packages/mikro-orm',
    mikroOrm: 7,
  },
];

/** The examples of the MikroORM this run loaded, and (in test/, not test/mikro-orm-7) all others. */
const EXAMPLES = ALL_EXAMPLES.filter((example) =>
  example.mikroOrm === undefined ? !MIKRO_ORM_ONLY : example.mikroOrm === MIKRO_ORM_MAJOR,
);

/** The text between `// --- snippet: NAME ---` and `// --- end snippet ---`. */
function snippetRegion(source: string, name: string): string {
  const start = source.indexOf(`// --- snippet: ${name} ---\n`);
  const end = source.indexOf('// --- end snippet ---', start);
  if (start < 0 || end < 0) throw new Error(`no snippet region '${name}'`);
  return source.slice(start + `// --- snippet: ${name} ---\n`.length, end).trimEnd();
}

/** The fenced code blocks of a Markdown file, trimmed. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)].map((m) => (m[1] ?? '').trimEnd());
}

function runExample(
  dir: string,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Only what the test sets: no RDS_* (else the example would dial it), no AWS profile or keys.
  for (const key of Object.keys(env)) {
    if ((key.startsWith('RDS_') && !key.startsWith('RDS_IAM_')) || key.startsWith('AWS_')) {
      delete env[key];
    }
  }
  delete env.NODE_OPTIONS;
  Object.assign(env, extraEnv);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['index.mjs'],
      { cwd: `${ROOT}examples/${dir}`, env, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** What every example prints when it ran through. */
function expectRanThrough(
  run: { code: number | null; stdout: string; stderr: string },
  user?: string,
): void {
  expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({
    code: 0,
    stderr: '',
  });
  expect(run.stdout).toMatch(/^migrations applied: \S+/m);
  const login = /^logged in as (\S+) with an IAM token$/m.exec(run.stdout);
  expect(login).not.toBeNull();
  if (user !== undefined) expect(login?.[1]).toBe(user);
  expect(run.stdout).toContain('notes: first | second | third, in a transaction');
  expect(run.stdout).toMatch(/^migrations rolled back$/m);
  expect(run.stdout).not.toMatch(/X-Amz-Signature|X-Amz-Credential/);
}

describe('knex, TypeORM, Sequelize and MikroORM examples', () => {
  const endpoints = new Map<Engine, { iam: IamEndpoint; app: IamUser; caFile: string }>();
  let caDir: string;

  beforeAll(async () => {
    caDir = await mkdtemp(join(tmpdir(), 'rds-iam-examples-'));
    for (const engine of ENGINES) {
      if (databaseFor(engine)?.enforcesLoginUser !== true) continue;
      const [iam, app] = await Promise.all([
        startIamEndpoint(engine),
        createIamUser(engine, { database: true }),
      ]);
      const caFile = join(caDir, `${engine}-ca.pem`);
      await writeFile(caFile, iam.ca);
      endpoints.set(engine, { iam, app, caFile });
    }
  });
  afterAll(async () => {
    for (const { iam, app } of endpoints.values()) {
      await iam.stop();
      await app.drop();
    }
    await rm(caDir, { recursive: true, force: true });
  });

  for (const example of EXAMPLES) {
    const realServer = databaseFor(example.engine)?.enforcesLoginUser === true;

    test.runIf(hasDatabase(example.engine) && realServer)(
      `examples/${example.dir}: one command, against the emulator it starts`,
      async () => {
        expectRanThrough(await runExample(example.dir), 'rds_iam_example');
      },
      90_000,
    );

    test.runIf(hasDatabase(example.engine) && realServer)(
      `examples/${example.dir}: RDS_* variables and AWS keys from the environment`,
      async () => {
        const target = endpoints.get(example.engine);
        if (!target) throw new Error(`no ${example.engine} endpoint`);
        const { iam, app, caFile } = target;
        iam.emulator.resetCounters();
        const run = await runExample(example.dir, exampleEnv(iam, app, caFile));
        expectRanThrough(run, app.user);
        const counters = iam.emulator.counters();
        expect(counters.accepted).toBeGreaterThanOrEqual(1);
        expect(counters.rejected).toBe(0);
      },
      90_000,
    );

    test(`the package README's quick start for ${example.dir} is the example's snippet`, async () => {
      const [source, readme] = await Promise.all([
        readFile(`${ROOT}examples/${example.dir}/index.mjs`, 'utf8'),
        readFile(`${ROOT}${example.readme}/README.md`, 'utf8'),
      ]);
      const snippet = snippetRegion(source, example.snippet);
      expect(snippet).toMatch(
        /iamConnection\(|iamDataSourceOptions\(|iamSequelizeOptions\(|iamMikroOrmOptions\(/,
      );
      expect(codeBlocks(readme)).toContain(snippet);
    });
  }
});
