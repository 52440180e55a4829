// Helpers of the @rds-iam/prisma end-to-end tests: building the package, generating the examples'
// Prisma clients, creating their tables, and running an example as a user would.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { IamConnectionOptions, TokenEvent } from '@rds-iam/core';
import { expect } from 'vitest';
import type { DatabaseTarget, Engine, IamEndpoint, IamUser } from '../harness/index.js';
import { mysqlConnect, pgConnect } from '../harness/index.js';

const exec = promisify(execFile);

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PRISMA_PACKAGE = join(ROOT, 'packages/prisma');
export const EXAMPLES: Readonly<Record<Engine, string>> = {
  postgres: join(ROOT, 'examples/prisma-postgres'),
  mysql: join(ROOT, 'examples/prisma-mysql'),
};
export const MINUTE = 60_000;

/** Newest modification time of the files under `dir` (recursively). */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * The examples import `@rds-iam/prisma` from its `dist`: build it when it is missing or older than
 * its sources (the e2e package does not depend on it, so turbo may not have built it yet).
 */
export async function ensurePrismaPackageBuilt(): Promise<void> {
  const entry = join(PRISMA_PACKAGE, 'dist/index.js');
  if (existsSync(entry) && statSync(entry).mtimeMs >= newest(join(PRISMA_PACKAGE, 'src'))) return;
  await exec(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: PRISMA_PACKAGE,
  });
}

/**
 * Environment for the Prisma CLI. `prisma generate` downloads a schema engine it does not use when
 * none is installed; offline that fails. Only then, point PRISMA_SCHEMA_ENGINE_BINARY at an existing
 * file (generate never runs it), so the tests pass online and offline alike.
 */
export function prismaCliEnv(exampleDir: string): Record<string, string> {
  if (process.env.PRISMA_SCHEMA_ENGINE_BINARY) return {};
  const fromPrisma = createRequire(join(exampleDir, 'node_modules/prisma/package.json'));
  const enginesDir = dirname(fromPrisma.resolve('@prisma/engines/package.json'));
  const installed = readdirSync(enginesDir).some((name) => name.startsWith('schema-engine'));
  return installed ? {} : { PRISMA_SCHEMA_ENGINE_BINARY: join(exampleDir, 'prisma/schema.prisma') };
}

/** Runs `prisma generate` in an example: its client lands in `generated/` (git-ignored). */
export async function generateClient(engine: Engine): Promise<void> {
  const dir = EXAMPLES[engine];
  await exec(join(dir, 'node_modules/.bin/prisma'), ['generate'], {
    cwd: dir,
    env: { ...process.env, ...prismaCliEnv(dir) },
  });
}

/** The example's schema, statement by statement. */
export function migrationStatements(engine: Engine): string[] {
  const sql = readFileSync(
    join(EXAMPLES[engine], 'prisma/migrations/0_init/migration.sql'),
    'utf8',
  );
  return sql
    .split(/;\s*$/m)
    .map((s) => s.replace(/^--.*$/gm, '').trim())
    .filter(Boolean);
}

/** Creates the example's tables in the user's database, as that user, through the emulator. */
export async function createTables(iam: IamEndpoint, user: IamUser): Promise<void> {
  const tokens = iam.tokenProvider(user.user);
  const login = { user: user.user, database: user.database, password: () => tokens.getToken() };
  if (iam.engine === 'postgres') {
    const client = await pgConnect(iam, login);
    try {
      for (const statement of migrationStatements('postgres')) await client.query(statement);
    } finally {
      await client.end();
    }
    return;
  }
  const conn = await mysqlConnect(iam, login);
  try {
    for (const statement of migrationStatements('mysql')) await conn.query(statement);
  } finally {
    await conn.end();
  }
}

/**
 * rds-iam options that log in as `user` through the emulator: dial 127.0.0.1, sign for its endpoint
 * and region with its demo credentials, trust its CA. `now` follows the test clock; a new function
 * per call means a new token cache (the shared cache is keyed by it), so every client starts cold.
 */
export function iamOptions(
  iam: IamEndpoint,
  user: IamUser,
  extra: Partial<Omit<IamConnectionOptions, 'ssl'>> = {},
): Omit<IamConnectionOptions, 'ssl'> & {
  host: string;
  port: number;
  user: string;
  database?: string;
  ssl: { ca: string };
} {
  return {
    host: iam.host,
    port: iam.port,
    user: user.user,
    ...(user.database === undefined ? {} : { database: user.database }),
    region: iam.region,
    signingHost: iam.endpoint.host,
    signingPort: iam.endpoint.port,
    credentials: iam.credentials,
    ssl: { ca: iam.ca },
    now: () => iam.clock.now(),
    ...extra,
  };
}

/** Counts the provider's events by type. */
export function eventCounter(): {
  onEvent: (e: TokenEvent) => void;
  count: (type: TokenEvent['type']) => number;
  events: TokenEvent[];
} {
  const events: TokenEvent[] = [];
  return {
    events,
    onEvent: (e) => events.push(e),
    count: (type) => events.filter((e) => e.type === type).length,
  };
}

/**
 * The RdsIamError code of an error, also as Prisma reports it: the client re-throws an error the
 * adapter raised as a `PrismaClientKnownRequestError` with the same `code` and message.
 */
export function rdsIamCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 8; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (
      typeof code === 'string' &&
      /^ERR_[A-Z_]+$/.test(code) &&
      typeof message === 'string' &&
      message.includes('rds-iam: ')
    ) {
      return code;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Every string reachable from an error: message, stack, causes, own properties. */
export function errorText(err: unknown, depth = 0): string {
  if (depth > 6 || err === null || err === undefined) return '';
  if (typeof err !== 'object') return String(err);
  const parts: string[] = [];
  if (err instanceof Error) parts.push(err.message, err.stack ?? '');
  for (const value of Object.values(err)) parts.push(errorText(value, depth + 1));
  parts.push(errorText((err as { cause?: unknown }).cause, depth + 1));
  return parts.join('\n');
}

/** What `pnpm start` in an example printed, and how it ended. */
export interface ExampleRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs an example the way its README says (`pnpm start`: `prisma generate`, then the program), with
 * `env` over an environment stripped of AWS_* and RDS_* (so the local mode really is local).
 */
export function runExample(engine: Engine, env: Record<string, string>): Promise<ExampleRun> {
  const dir = EXAMPLES[engine];
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('RDS_')),
  );
  return new Promise((resolve) => {
    execFile(
      'pnpm',
      ['--silent', 'start'],
      {
        cwd: dir,
        env: {
          ...base,
          ...prismaCliEnv(dir),
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_CONFIG_FILE: '/nonexistent/rds-iam-e2e/config',
          AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/rds-iam-e2e/credentials',
          ...env,
        },
        timeout: 60_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The `summary: {...}` line an example prints last. */
export function exampleSummary(stdout: string): Record<string, unknown> {
  const line = stdout.split('\n').find((l) => l.startsWith('summary: '));
  return line ? (JSON.parse(line.slice('summary: '.length)) as Record<string, unknown>) : {};
}

/** The admin URL examples/local-endpoint takes for the discovered database (its local mode). */
export function adminUrl(target: DatabaseTarget): string {
  const scheme = target.engine === 'postgres' ? 'postgres' : 'mysql';
  const auth = `${encodeURIComponent(target.adminUser)}${target.adminPassword ? `:${encodeURIComponent(target.adminPassword)}` : ''}`;
  return `${scheme}://${auth}@${target.host}:${target.port}/${target.engine === 'postgres' ? target.database : ''}`;
}

/** The text between `// --- snippet: NAME ---` and `// --- end snippet ---` in a file. */
export function snippet(file: string, name: string): string {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.indexOf(`// --- snippet: ${name} ---`);
  const end = lines.indexOf('// --- end snippet ---', start);
  if (start < 0 || end < 0) throw new Error(`no snippet ${name} in ${file}`);
  return `${lines.slice(start + 1, end).join('\n')}\n`;
}

/**
 * Loads an example's prisma.config.ts with the Prisma CLI's own loader (`@prisma/config`, as
 * `prisma migrate` does) under `env`, and returns the datasource URL it computed.
 */
export async function loadExampleConfigUrl(
  engine: Engine,
  env: Record<string, string>,
): Promise<string> {
  const dir = EXAMPLES[engine];
  const fromPrisma = createRequire(join(dir, 'node_modules/prisma/package.json'));
  const { loadConfigFromFile } = (await import(fromPrisma.resolve('@prisma/config'))) as {
    loadConfigFromFile(input: { configRoot: string }): Promise<{
      config?: { datasource?: { url?: string } };
      error?: { _tag: string; error?: Error };
    }>;
  };
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const { config, error } = await loadConfigFromFile({ configRoot: dir });
    if (error) throw error.error ?? new Error(error._tag);
    const url = config?.datasource?.url;
    if (!url) throw new Error('prisma.config.ts gave no datasource.url');
    return url;
  } finally {
    for (const key of Object.keys(env)) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

// biome-ignore lint/suspicious/noExplicitAny: a generated Prisma client exists only after `prisma generate`.
type GeneratedClient = any;

/**
 * The example schema's round trip, the same for both engines: CRUD with relations, both
 * `$transaction` forms, and an interactive transaction that throws and rolls back. Returns the
 * user it created (with two posts), for the engine's own raw-SQL checks and clean-up.
 */
export async function exerciseCrudAndTransactions(
  prisma: GeneratedClient,
): Promise<{ id: number }> {
  const created = await prisma.user.create({
    data: {
      email: 'grace@example.com',
      name: 'Grace',
      posts: { create: [{ title: 'COBOL' }, { title: 'Nanoseconds', published: true }] },
    },
    include: { posts: { orderBy: { id: 'asc' } } },
  });
  expect(created.posts.map((p: { title: string }) => p.title)).toEqual(['COBOL', 'Nanoseconds']);
  const found = await prisma.user.findUnique({
    where: { email: 'grace@example.com' },
    include: { posts: { where: { published: true } } },
  });
  expect(found.posts).toHaveLength(1);
  await prisma.user.update({ where: { id: created.id }, data: { name: 'Grace Hopper' } });

  const [posts, users] = await prisma.$transaction([
    prisma.post.count({ where: { authorId: created.id } }),
    prisma.user.count(),
  ]);
  expect([posts, users]).toEqual([2, 1]);
  const after = await prisma.$transaction(async (tx: GeneratedClient) => {
    await tx.post.updateMany({ where: { authorId: created.id }, data: { published: true } });
    return tx.post.count({ where: { published: true } });
  });
  expect(after).toBe(2);
  // An interactive transaction that throws rolls back.
  await expect(
    prisma.$transaction(async (tx: GeneratedClient) => {
      await tx.post.deleteMany({});
      throw new Error('roll back');
    }),
  ).rejects.toThrow('roll back');
  expect(await prisma.post.count()).toBe(2);
  return { id: created.id };
}
