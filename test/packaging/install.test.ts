// Each package README's install line, run as an application runs it: `npm install` from the registry
// into a scratch app, with the packed tarballs standing in for @rds-iam/* (issue 24). It must install
// exactly the drivers the line names or its ORM brings (no MySQL driver in a PostgreSQL app, no pg in
// a MySQL one), the integration must load and build its options for that engine (and say which
// driver to install for the other), and a TypeScript consumer must compile with skipLibCheck off
// without @types/pg, except against @rds-iam/pg, whose README names it for TypeScript.
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { exec, packageDirs, packTarballs, root } from './tarballs.js';

type Engine = 'postgres' | 'mysql' | 'mariadb';

interface InstallLine {
  /** The package whose README it is: `@rds-iam/knex`. */
  readonly integration: string;
  readonly engine: Engine;
  /** What the line installs, as written. */
  readonly packages: readonly string[];
  /** The README's `npm install --save-dev @types/...` lines: what TypeScript needs besides. */
  readonly typesFor: readonly string[];
}

/** The drivers a line may bring, whichever package brings them. */
const DRIVERS = ['pg', 'postgres', 'mysql2', 'mariadb'] as const;
/** Drivers that come with an ORM's own engine package, not with rds-iam. */
const BROUGHT_BY: Record<string, string> = {
  '@mikro-orm/postgresql': 'pg',
  '@mikro-orm/mysql': 'mysql2',
  '@mikro-orm/mariadb': 'mariadb',
  '@prisma/adapter-pg': 'pg',
  '@prisma/adapter-mariadb': 'mariadb',
};

function installLines(): InstallLine[] {
  const lines: InstallLine[] = [];
  for (const dir of packageDirs) {
    const { name } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
    };
    let readme: string;
    try {
      readme = readFileSync(join(dir, 'README.md'), 'utf8');
    } catch {
      continue;
    }
    const commands = [...readme.matchAll(/^npm install ([^#\n]+?)\s*(?:#.*)?$/gm)].map(
      (m) => m[1]?.trim().split(/\s+/) ?? [],
    );
    const typesFor = commands
      .filter((words) => words[0] === '--save-dev')
      .flatMap((words) => words.slice(1).filter((w) => w.startsWith('@types/')));
    for (const packages of commands) {
      if (packages[0] !== name || name === '@rds-iam/core') continue;
      const drivers = expectedDrivers(packages);
      const engine: Engine =
        drivers.includes('pg') || drivers.includes('postgres')
          ? 'postgres'
          : drivers.includes('mariadb')
            ? 'mariadb'
            : 'mysql';
      lines.push({ integration: name, engine, packages, typesFor });
    }
  }
  return lines;
}

function expectedDrivers(packages: readonly string[]): string[] {
  const named = packages.filter((p) => (DRIVERS as readonly string[]).includes(p));
  const brought = packages.flatMap((p) => BROUGHT_BY[p] ?? []);
  return [...new Set([...named, ...brought])].sort();
}

/** The versions the repository tests with, so that the registry's latest cannot change a result. */
function testedVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const manifest of [
    join(root, 'test/package.json'),
    ...packageDirs.map((d) => join(d, 'package.json')),
  ]) {
    const { devDependencies = {} } = JSON.parse(readFileSync(manifest, 'utf8')) as {
      devDependencies?: Record<string, string>;
    };
    for (const [name, range] of Object.entries(devDependencies)) {
      if (!range.startsWith('workspace:')) versions[name] ??= range;
    }
  }
  return versions;
}

const H = "'mydb.abc123xyz.us-east-1.rds.amazonaws.com'";

/**
 * Per integration and engine: an expression that builds the options (with `m` the integration's
 * module), and one for the engine the line did not install, which must name the driver to install.
 */
const PROBES: Record<
  string,
  Partial<Record<Engine, { build: string; other?: [string, string] }>>
> = {
  '@rds-iam/knex': {
    postgres: {
      build: `m.iamConnection({ host: ${H}, user: 'app', password: '' })()`,
      other: [`m.iamConnection({ client: 'mysql2', host: ${H}, user: 'app' })()`, 'mysql2'],
    },
    mysql: {
      build: `m.iamConnection({ client: 'mysql2', host: ${H}, user: 'app', password: null })()`,
      other: [`m.iamConnection({ host: ${H}, user: 'app' })()`, 'pg'],
    },
  },
  '@rds-iam/typeorm': {
    postgres: {
      build: `m.iamDataSourceOptions({ type: 'postgres', host: ${H}, username: 'app' })`,
      other: [`m.iamDataSourceOptions({ type: 'mysql', host: ${H}, username: 'app' })`, 'mysql2'],
    },
    mysql: {
      build: `m.iamDataSourceOptions({ type: 'mysql', host: ${H}, username: 'app' })`,
      other: [`m.iamDataSourceOptions({ type: 'postgres', host: ${H}, username: 'app' })`, 'pg'],
    },
  },
  '@rds-iam/sequelize': {
    postgres: {
      build: `m.iamSequelizeOptions({ dialect: 'postgres', host: ${H}, username: 'app' })`,
      other: [`m.iamSequelizeOptions({ dialect: 'mysql', host: ${H}, username: 'app' })`, 'mysql2'],
    },
    mysql: {
      build: `m.iamSequelizeOptions({ dialect: 'mysql', host: ${H}, username: 'app' })`,
      other: [`m.iamSequelizeOptions({ dialect: 'postgres', host: ${H}, username: 'app' })`, 'pg'],
    },
    mariadb: {
      build: `m.iamSequelizeOptions({ dialect: 'mariadb', host: ${H}, username: 'app' })`,
      other: [`m.iamSequelizeOptions({ dialect: 'mysql', host: ${H}, username: 'app' })`, 'mysql2'],
    },
  },
  '@rds-iam/mikro-orm': {
    postgres: {
      build: `m.iamMikroOrmOptions({ driver: require('@mikro-orm/postgresql').PostgreSqlDriver, host: ${H}, user: 'app' })`,
      // A class of that name is all it takes to pick the engine.
      other: [
        `m.iamMikroOrmOptions({ driver: class MySqlDriver {}, host: ${H}, user: 'app' })`,
        'mysql2',
      ],
    },
    mysql: {
      build: `m.iamMikroOrmOptions({ driver: require('@mikro-orm/mysql').MySqlDriver, host: ${H}, user: 'app' })`,
      other: [
        `m.iamMikroOrmOptions({ driver: class PostgreSqlDriver {}, host: ${H}, user: 'app' })`,
        'pg',
      ],
    },
    mariadb: {
      build: `m.iamMikroOrmOptions({ driver: require('@mikro-orm/mariadb').MariaDbDriver, host: ${H}, user: 'app' })`,
      other: [
        `m.iamMikroOrmOptions({ driver: class MySqlDriver {}, host: ${H}, user: 'app' })`,
        'mysql2',
      ],
    },
  },
  '@rds-iam/prisma': {
    postgres: { build: `require('@rds-iam/prisma/pg').iamPrismaPg({ host: ${H}, user: 'app' })` },
    mariadb: {
      build: `require('@rds-iam/prisma/mariadb').iamPrismaMariaDb({ host: ${H}, user: 'app' })`,
    },
  },
  '@rds-iam/pg': { postgres: { build: `m.pgIamConfig({ host: ${H}, user: 'app' })` } },
  '@rds-iam/mysql2': { mysql: { build: `m.mysql2IamConfig({ host: ${H}, user: 'app' })` } },
  '@rds-iam/postgres': {
    postgres: { build: `m.iamPostgresOptions({ host: ${H}, user: 'app', password: '' })` },
  },
};

/** What a TypeScript application writes against each integration and engine. */
const CONSUMERS: Record<string, Partial<Record<Engine, string>>> = {
  '@rds-iam/knex': {
    postgres: `import knex from 'knex';
import { iamConnection } from '@rds-iam/knex';
export const db = knex({ client: 'pg', connection: iamConnection({ host: ${H}, user: 'app', database: 'app', password: '', ssl: { caFile: 'ca.pem' } }) });`,
    mysql: `import knex from 'knex';
import { iamConnection } from '@rds-iam/knex';
export const db = knex({ client: 'mysql2', connection: iamConnection({ client: 'mysql2', host: ${H}, user: 'app', database: 'app', ssl: { caFile: 'ca.pem' } }) });`,
  },
  '@rds-iam/typeorm': {
    postgres: `import { DataSource } from 'typeorm';
import { iamDataSourceOptions } from '@rds-iam/typeorm';
export const ds = new DataSource(iamDataSourceOptions({ type: 'postgres', host: ${H}, username: 'app', password: null, ssl: { caFile: 'ca.pem' } }));`,
    mysql: `import { DataSource } from 'typeorm';
import { iamDataSourceOptions } from '@rds-iam/typeorm';
export const ds = new DataSource(iamDataSourceOptions({ type: 'mysql', host: ${H}, username: 'app' }));`,
  },
  '@rds-iam/sequelize': {
    postgres: `import { Sequelize } from 'sequelize';
import { iamSequelizeOptions } from '@rds-iam/sequelize';
export const db = new Sequelize(iamSequelizeOptions({ dialect: 'postgres', host: ${H}, username: 'app', password: '' }));`,
    mysql: `import { Sequelize } from 'sequelize';
import { iamSequelizeOptions } from '@rds-iam/sequelize';
export const db = new Sequelize(iamSequelizeOptions({ dialect: 'mysql', host: ${H}, username: 'app' }));`,
    mariadb: `import { Sequelize } from 'sequelize';
import { iamSequelizeOptions } from '@rds-iam/sequelize';
export const db = new Sequelize(iamSequelizeOptions({ dialect: 'mariadb', host: ${H}, username: 'app' }));`,
  },
  '@rds-iam/mikro-orm': {
    postgres: `import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { iamMikroOrmOptions } from '@rds-iam/mikro-orm';
export const options = iamMikroOrmOptions({ driver: PostgreSqlDriver, host: ${H}, user: 'app', dbName: 'app', password: '' });`,
    mysql: `import { MySqlDriver } from '@mikro-orm/mysql';
import { iamMikroOrmOptions } from '@rds-iam/mikro-orm';
export const options = iamMikroOrmOptions({ driver: MySqlDriver, host: ${H}, user: 'app', dbName: 'app' });`,
    mariadb: `import { MariaDbDriver } from '@mikro-orm/mariadb';
import { iamMikroOrmOptions } from '@rds-iam/mikro-orm';
export const options = iamMikroOrmOptions({ driver: MariaDbDriver, host: ${H}, user: 'app', dbName: 'app' });`,
  },
  '@rds-iam/prisma': {
    postgres: `import { iamDatabaseUrl } from '@rds-iam/prisma';
import { iamPrismaPg } from '@rds-iam/prisma/pg';
export const adapter = iamPrismaPg({ host: ${H}, user: 'app', database: 'app', max: 10 });
export const url = iamDatabaseUrl({ engine: 'postgres', host: ${H}, user: 'app' });`,
    mariadb: `import { iamPrismaMariaDb } from '@rds-iam/prisma/mariadb';
export const adapter = iamPrismaMariaDb({ host: ${H}, user: 'app', database: 'app' });`,
  },
  '@rds-iam/pg': {
    postgres: `import { createPool } from '@rds-iam/pg';
export const pool = createPool({ host: ${H}, user: 'app', max: 10, password: '' });`,
  },
  '@rds-iam/mysql2': {
    mysql: `import { createPool } from '@rds-iam/mysql2';
export const pool = createPool({ host: ${H}, user: 'app', connectionLimit: 10 });`,
  },
  '@rds-iam/postgres': {
    postgres: `import postgres from 'postgres';
import { iamPostgresOptions } from '@rds-iam/postgres';
export const sql = postgres(iamPostgresOptions({ host: ${H}, user: 'app', max: 10 }));`,
  },
};

const LINES = installLines();
const versions = testedVersions();
let work: string;
let local: Record<string, string>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'rds-iam-install-'));
  await mkdir(join(work, 'tarballs'));
  local = Object.fromEntries(
    Object.entries(await packTarballs(packageDirs, join(work, 'tarballs'))).map(([name, file]) => [
      name,
      `file:${file}`,
    ]),
  );
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

/** The environment of npm, node and tsc here: pnpm's NODE_PATH would let the app find our drivers. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_loglevel: 'error' };
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  return env;
}

/** `name@range` as the repository tests it, or the tarball for @rds-iam/*. */
function spec(name: string): string {
  if (name.startsWith('@rds-iam/')) return local[name] ?? name;
  return versions[name] ? `${name}@${versions[name]}` : name;
}

/** A new app whose @rds-iam/* dependencies, direct or not, resolve to the tarballs. */
async function newApp(label: string): Promise<string> {
  const app = join(work, label);
  await mkdir(app);
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: label, private: true, dependencies: {} }),
  );
  return app;
}

async function npmInstall(app: string, packages: readonly string[], flags: string[] = []) {
  // The tarballs' own `@rds-iam/core: 0.1.0` must resolve to the tarball, not to the registry; npm
  // refuses an override of a package the app names itself.
  const manifest = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    overrides?: Record<string, string>;
  };
  const direct = new Set([...packages, ...Object.keys(manifest.dependencies ?? {})]);
  manifest.overrides = Object.fromEntries(
    Object.entries(local).filter(([name]) => !direct.has(name)),
  );
  await writeFile(join(app, 'package.json'), JSON.stringify(manifest));
  await exec(
    'npm',
    [
      'install',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      ...flags,
      ...packages.map(spec),
    ],
    { cwd: app, timeout: 240_000, maxBuffer: 16 << 20, env: cleanEnv() },
  );
}

/** The names of every package an app's lockfile holds, at any depth. */
async function lockedNames(app: string): Promise<Set<string>> {
  const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  return new Set(
    Object.keys(lock.packages)
      .map((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(path)?.[1])
      .filter((name): name is string => name !== undefined),
  );
}

/** Runs every probe of `lines` in one process; returns each line's report. */
async function probe(app: string, lines: readonly InstallLine[]) {
  const probes = lines.map((line) => {
    const p = PROBES[line.integration]?.[line.engine];
    if (!p) throw new Error(`no probe for ${line.integration} ${line.engine}`);
    return { integration: line.integration, ...p };
  });
  // As an ES module over the CommonJS build, as an application imports it.
  const script = `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const report = [];
${probes
  .map(
    (p) => `{
  const m = await import(${JSON.stringify(p.integration)});
  const built = ${p.build};
  const entry = { integration: ${JSON.stringify(p.integration)}, built: built !== null && typeof built === 'object' };
  ${p.other ? `try { ${p.other[0]}; entry.other = 'built'; } catch (e) { entry.other = e.code + ': ' + e.message; }` : ''}
  report.push(entry);
}`,
  )
  .join('\n')}
console.log(JSON.stringify(report));`;
  await writeFile(join(app, 'probe.mjs'), script);
  const { stdout } = await exec(process.execPath, ['probe.mjs'], {
    cwd: app,
    timeout: 60_000,
    env: cleanEnv(),
  });
  const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]');
  expect(report).toEqual(
    probes.map((p) => ({
      integration: p.integration,
      built: true,
      ...(p.other
        ? {
            other: `ERR_INVALID_OPTION: rds-iam: ${p.integration} needs the '${p.other[1]}' driver for this connection, and it is not installed. Install it next to ${p.integration}: npm install ${p.other[1]}`,
          }
        : {}),
    })),
  );
}

/**
 * Compiles the consumers of `lines` as the app does, skipLibCheck off, next to a file with one type
 * error (a check that reports nothing proves nothing), and returns tsc's other errors.
 */
async function typecheck(app: string, lines: readonly InstallLine[]): Promise<string> {
  const files = [join(app, 'broken.mts')];
  await writeFile(files[0] as string, "export const n: number = 'not a number';\n");
  for (const [i, line] of lines.entries()) {
    const file = `consumer-${i}.mts`;
    const code = CONSUMERS[line.integration]?.[line.engine];
    if (!code) throw new Error(`no consumer for ${line.integration} ${line.engine}`);
    await writeFile(join(app, file), code);
    files.push(join(app, file));
  }
  const { stdout } = await exec(
    process.execPath,
    [
      join(app, 'node_modules/typescript/bin/tsc'),
      '--noEmit',
      '--strict',
      '--skipLibCheck',
      'false',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      ...files,
    ],
    { cwd: app, timeout: 180_000, env: cleanEnv() },
  ).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
  const errors = stdout.split('\n').filter((line) => /error TS\d+/.test(line));
  const control = errors.filter((line) => line.startsWith('broken.mts') && /TS2322/.test(line));
  expect(control, 'the control file has its one error').toHaveLength(1);
  return errors.filter((line) => !control.includes(line)).join('\n');
}

/** The compiler, for the consumer checks: a tool, not something the app runs with. */
const COMPILER = ['typescript', '@types/node'];

describe('what each README install line installs (npm, from the tarballs)', () => {
  test('every integration has install lines, and a probe and a consumer for each', () => {
    expect([...new Set(LINES.map((l) => l.integration))].sort()).toEqual(
      Object.keys(PROBES).sort(),
    );
    for (const line of LINES) {
      const name = line.packages.join(' ');
      expect({ name, probe: !!PROBES[line.integration]?.[line.engine] }).toEqual({
        name,
        probe: true,
      });
      expect({ name, consumer: !!CONSUMERS[line.integration]?.[line.engine] }).toEqual({
        name,
        consumer: true,
      });
    }
    expect(new Set(LINES.map((l) => l.engine))).toEqual(new Set(['postgres', 'mysql', 'mariadb']));
  });

  // Resolution only (npm's lockfile): exactly the drivers the line names or its ORM brings.
  test.concurrent.each(LINES.map((line) => [line.packages.join(' '), line] as const))(
    'npm install %s: no driver of another engine',
    async (name, line) => {
      const app = await newApp(`lock-${name.replace(/\W+/g, '-')}`);
      await npmInstall(app, line.packages, ['--package-lock-only']);
      const names = await lockedNames(app);
      expect({ name, drivers: DRIVERS.filter((d) => names.has(d)).sort() }).toEqual({
        name,
        drivers: expectedDrivers(line.packages),
      });
      // Only Prisma's pg adapter brings pg's types (it depends on them); rds-iam never does.
      expect({ name, typesPg: names.has('@types/pg') }).toEqual({
        name,
        typesPg: line.packages.includes('@prisma/adapter-pg'),
      });
    },
    240_000,
  );
});

/** Applications of one engine, installed from their README lines; each loads, builds and compiles. */
const APPS = [
  {
    name: 'a PostgreSQL app (knex, TypeORM, Sequelize, MikroORM, postgres.js): no MySQL driver, no @types/pg',
    lines: LINES.filter(
      (l) => l.engine === 'postgres' && !['@rds-iam/pg', '@rds-iam/prisma'].includes(l.integration),
    ),
    forbidden: ['mysql2', 'mariadb', '@types/pg'],
  },
  {
    name: 'a MySQL app (knex, TypeORM, Sequelize, MikroORM, mysql2): no pg',
    lines: LINES.filter((l) => l.engine === 'mysql'),
    forbidden: ['pg', 'postgres', 'mariadb', '@types/pg'],
  },
  {
    name: 'a MariaDB app (Sequelize, MikroORM, Prisma on the mariadb connector): no pg, no mysql2',
    lines: LINES.filter((l) => l.engine === 'mariadb'),
    forbidden: ['pg', 'postgres', 'mysql2', '@types/pg'],
  },
] as const;

describe('installed from the README lines with npm, loaded, built and compiled (skipLibCheck off)', () => {
  // Side by side: each mostly waits for npm and the registry.
  for (const [index, spec] of APPS.entries()) {
    test.concurrent(spec.name, async () => {
      expect(spec.lines.length).toBeGreaterThan(0);
      const app = await newApp(`app-${index}`);
      await npmInstall(app, [...new Set(spec.lines.flatMap((l) => l.packages))]);
      await npmInstall(app, COMPILER, ['--save-dev']);
      const names = await lockedNames(app);
      expect(spec.forbidden.filter((name) => names.has(name))).toEqual([]);
      await probe(app, spec.lines);
      expect(await typecheck(app, spec.lines)).toBe('');
    }, 600_000);
  }

  test.concurrent('@rds-iam/pg needs @types/pg, which its README names for TypeScript; Prisma brings its own', async () => {
    const pg = LINES.filter((l) => l.integration === '@rds-iam/pg');
    const prisma = LINES.filter(
      (l) => l.integration === '@rds-iam/prisma' && l.engine === 'postgres',
    );
    expect([pg.length, prisma.length]).toEqual([1, 1]);
    const types = pg[0]?.typesFor ?? [];
    expect(types).toEqual(['@types/pg']);
    const app = await newApp('app-pg');
    await npmInstall(app, pg[0]?.packages ?? []);
    await npmInstall(app, COMPILER, ['--save-dev']);
    await probe(app, pg);
    // Without it, pg's own types are missing inside ours: the error an app would see.
    expect(await typecheck(app, pg)).toMatch(
      /error TS7016: Could not find a declaration file for module 'pg'/,
    );
    await npmInstall(app, types, ['--save-dev']);
    expect(await typecheck(app, pg)).toBe('');
    // Prisma's pg adapter depends on @types/pg itself: its line needs nothing more (the lockfile test
    // above shows its line alone brings it).
    await npmInstall(app, prisma[0]?.packages ?? []);
    await probe(app, prisma);
    expect(await typecheck(app, [...pg, ...prisma])).toBe('');
  }, 600_000);
});
