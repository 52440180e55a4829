// The packages as an application outside the workspace gets them: every package packed into a
// tarball, installed with its peers into a scratch app (no workspace links), then imported and
// required, type-checked as consumers compile them (node16, nodenext, bundler; skipLibCheck off),
// and bundled (esbuild in both formats, webpack, Rollup) into files that run with no node_modules at
// all and log in through the emulator over TLS verified with the bundled RDS CAs.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';
import { exec, packageDirs, packTarballs, root } from './tarballs.js';

const testManifest = JSON.parse(readFileSync(join(root, 'test/package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};

interface Manifest {
  name: string;
  exports: Record<string, string | { import: { default: string }; require: { default: string } }>;
}

const manifests = packageDirs.map(
  (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest,
);
/** Every importable entry: `@rds-iam/core`, `@rds-iam/prisma/pg`, ... */
const entries = manifests.flatMap((m) =>
  Object.entries(m.exports)
    .filter(([, target]) => typeof target === 'object')
    .map(([subpath]) => (subpath === '.' ? m.name : `${m.name}${subpath.slice(1)}`)),
);
/** What the scratch app installs next to the tarballs: each version as the tests use it. */
const PEERS = [
  'pg',
  '@types/pg',
  'mysql2',
  'knex',
  'typeorm',
  'sequelize',
  'postgres',
  '@mikro-orm/core',
  '@mikro-orm/postgresql',
  '@types/node',
  'typescript',
  'esbuild',
  'webpack',
  'rollup',
  '@rollup/plugin-commonjs',
  '@rollup/plugin-node-resolve',
  '@rollup/plugin-json',
];

let work: string;
let app: string;

async function pnpm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await exec('pnpm', args, { cwd, timeout: 180_000, env: process.env });
  return stdout;
}

async function node(args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await exec(process.execPath, args, {
    cwd,
    timeout: 30_000,
    killSignal: 'SIGKILL',
    env: env ?? process.env,
  });
  return stdout.trim().split('\n').at(-1) ?? '';
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'rds-iam-packaging-'));
  const tarballs = join(work, 'tarballs');
  app = join(work, 'app');
  mkdirSync(app);
  const local = Object.fromEntries(
    Object.entries(await packTarballs(packageDirs, tarballs)).map(([name, file]) => [
      name,
      `file:${file}`,
    ]),
  );
  const dependencies: Record<string, string> = { ...local };
  for (const name of PEERS) {
    const version = testManifest.devDependencies[name];
    if (!version) throw new Error(`test/package.json has no ${name} to take the version from`);
    dependencies[name] = version;
  }
  // One Prisma adapter only: its entry's types must stand alone.
  const prisma = JSON.parse(readFileSync(join(root, 'packages/prisma/package.json'), 'utf8'));
  dependencies['@prisma/adapter-pg'] = prisma.devDependencies['@prisma/adapter-pg'];
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'rds-iam-packaging-app',
      private: true,
      dependencies,
      // The tarballs' own `@rds-iam/core: 0.1.0` must resolve to the tarball, not to the registry.
      pnpm: { overrides: local },
    }),
  );
  await pnpm(['install', '--prefer-offline', '--ignore-scripts', '--config.lockfile=false'], app);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the set-up a newcomer runs', () => {
  test("the README's first line installs exactly the packageManager pnpm", async () => {
    const line = await node([join(root, 'scripts/readme-setup.mjs'), '1'], root);
    const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager;
    expect(line).toContain(`npm install --global ${pinned} && pnpm install && pnpm demo`);
  });
});

describe('installed from the tarballs', () => {
  test('each tarball holds its entries, source maps with their sources, and no stale files', async () => {
    const tarballs = join(work, 'tarballs');
    for (const file of readdirSync(tarballs)) {
      const { stdout } = await exec('tar', ['-tzf', join(tarballs, file)]);
      const files = stdout.trim().split('\n');
      const name = file.replace(/-\d+\.\d+\.\d+\.tgz$/, '');
      expect({
        name,
        outside: files.filter(
          (f) => !/^package\/(dist\/|bin\/[\w-]+\.js$|README\.md$|package\.json$|LICENSE$)/.test(f),
        ),
      }).toEqual({ name, outside: [] });
      expect({ name, declarationMaps: files.filter((f) => f.endsWith('.d.ts.map')) }).toEqual({
        name,
        declarationMaps: [],
      });
      const maps = files.filter((f) => f.endsWith('.js.map'));
      expect(maps.length).toBeGreaterThan(0);
      const dir = join(work, 'unpacked', name);
      mkdirSync(dir, { recursive: true });
      await exec('tar', ['-xzf', join(tarballs, file), '-C', dir]);
      for (const map of maps) {
        const { sources, sourcesContent } = JSON.parse(readFileSync(join(dir, map), 'utf8')) as {
          sources: string[];
          sourcesContent?: string[];
        };
        expect({ map, inlined: sourcesContent?.length }).toEqual({ map, inlined: sources.length });
      }
    }
  });

  test('the commands, rds-iam and rds-iam-emulator, run from the installed packages', async () => {
    for (const [command, usage] of [
      ['rds-iam', 'Usage: rds-iam <command>'],
      ['rds-iam-emulator', 'Usage: rds-iam-emulator --engine'],
    ] as const) {
      const { stdout } = await exec(join(app, 'node_modules/.bin', command), ['--help'], {
        cwd: app,
      });
      expect(stdout).toContain(usage);
    }
  });

  test('every entry loads by import and by require, and both give the very same objects', async () => {
    const script = `
      const { createRequire } = await import('node:module');
      const require = createRequire(process.cwd() + '/');
      const report = {};
      for (const name of ${JSON.stringify(entries)}) {
        const imported = await import(name);
        const required = require(name);
        const keys = Object.keys(required).filter((k) => k !== '__esModule').sort();
        report[name] = {
          keys: keys.length,
          same: keys.join() === Object.keys(imported).sort().join() &&
            keys.every((k) => imported[k] === required[k]),
        };
      }
      console.log(JSON.stringify(report));`;
    const report = JSON.parse(await node(['--input-type=module', '-e', script], app)) as Record<
      string,
      { keys: number; same: boolean }
    >;
    expect(Object.keys(report).sort()).toEqual([...entries].sort());
    for (const [name, { keys, same }] of Object.entries(report)) {
      expect({ name, same }).toEqual({ name, same: true });
      expect({ name, keys: keys > 0 }).toEqual({ name, keys: true });
    }
  });

  // What a consumer writes, compiled with the library types checked too.
  const CONSUMER = `
import { createTokenProvider, RdsIamError, rdsCaCertificates } from '@rds-iam/core';
import { createPool, pgIamConfig } from '@rds-iam/pg';
import { createPool as createMysqlPool } from '@rds-iam/mysql2';
import { iamConnection } from '@rds-iam/knex';
import { iamDataSourceOptions } from '@rds-iam/typeorm';
import { iamDatabaseUrl } from '@rds-iam/prisma';
import { iamPrismaPg } from '@rds-iam/prisma/pg';
import { startEmulator } from '@rds-iam/emulator';

const provider = createTokenProvider({ host: 'db.abc123.us-east-1.rds.amazonaws.com', user: 'app' });
const token: Promise<string> = provider.getToken();
// The password hook returns a promise of the token, always.
const password: Promise<string> = pgIamConfig({ host: 'h', user: 'u' }).password();
const code: string = new RdsIamError('ERR_INVALID_HOST', 'x').code;
export const used = [token, password, code, rdsCaCertificates, createPool, createMysqlPool,
  iamConnection, iamDataSourceOptions, iamDatabaseUrl, iamPrismaPg, startEmulator];
`;
  const MODES = [
    { module: 'node16', files: ['consumer.mts', 'consumer.cts'] },
    { module: 'nodenext', files: ['consumer.mts', 'consumer.cts'] },
    { module: 'esnext', resolution: 'bundler', files: ['consumer.ts'] },
  ];
  for (const mode of MODES) {
    const resolution = mode.resolution ?? mode.module;
    test(`types check for a consumer under module ${mode.module}, moduleResolution ${resolution}, skipLibCheck off (${mode.files.join(', ')})`, async () => {
      const dir = join(app, `consumer-${resolution}`);
      mkdirSync(dir, { recursive: true });
      for (const file of mode.files) writeFileSync(join(dir, file), CONSUMER);
      // A consumer with an error must fail, or a pass proves nothing.
      writeFileSync(
        join(dir, `broken.${mode.files[0]?.split('.').pop()}`),
        `${CONSUMER}\nconst n: number = pgIamConfig({ host: 'h', user: 'u' }).password();\n`,
      );
      const args = (files: string[]) => [
        join(app, 'node_modules/typescript/bin/tsc'),
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        'false',
        '--module',
        mode.module,
        '--moduleResolution',
        resolution,
        '--target',
        'es2022',
        '--types',
        'node',
        ...files.map((f) => join(dir, f)),
      ];
      const broken = await exec(
        process.execPath,
        args([`broken.${mode.files[0]?.split('.').pop()}`]),
        { cwd: app },
      ).then(
        () => '',
        (err: { stdout: string }) => err.stdout,
      );
      expect(broken).toMatch(/error TS2322/);
      const { stdout } = await exec(process.execPath, args(mode.files), { cwd: app }).catch(
        (err: { stdout: string }) => ({ stdout: err.stdout }),
      );
      expect(stdout).toBe('');
    }, 120_000);
  }
});

describe.runIf(hasDatabase('postgres'))(
  'bundled by esbuild, webpack and Rollup, run with no node_modules, logging in through the emulator',
  () => {
    let iam: IamEndpoint;
    let user: IamUser;
    const APP = `
import { rdsCaCertificates } from '@rds-iam/core';
import { createPool } from '@rds-iam/pg';

const env = process.env;
const pool = createPool({
  host: env.RDS_HOST,
  port: Number(env.RDS_PORT),
  user: env.RDS_USER,
  database: env.RDS_DATABASE,
  signingHost: env.RDS_SIGNING_HOST,
  signingPort: Number(env.RDS_SIGNING_PORT),
  region: env.RDS_REGION,
  max: 1,
  allowExitOnIdle: true,
  // The RDS CAs as the bundle carries them, plus the emulator's: verification must still pass.
  ssl: { ca: [...rdsCaCertificates(), env.EMULATOR_CA] },
});
const { rows } = await pool.query('SELECT current_user AS u');
console.log(JSON.stringify({ user: rows[0].u, rdsCas: rdsCaCertificates().length }));
`;

    beforeAll(async () => {
      [iam, user] = await Promise.all([
        startIamEndpoint('postgres'),
        createIamUser('postgres', { database: true }),
      ]);
      writeFileSync(join(app, 'app.mjs'), APP);
    });

    /** The app as an entry a bundler takes: CommonJS output cannot hold top-level await. */
    function entryFor(format: 'cjs' | 'esm'): string {
      const entry = join(app, `entry-${format}.mjs`);
      const imports = APP.match(/^import .*$/gm)?.join('\n') ?? '';
      writeFileSync(
        entry,
        format === 'cjs'
          ? `${imports}\n(async () => {${APP.replace(/^import .*$/gm, '')}})();`
          : APP,
      );
      return entry;
    }
    const fromApp = (name: string) => createRequire(join(app, 'package.json'))(name);

    /** Each bundler as Lambda and container users run it; each resolves to the file to run. */
    const BUNDLERS = {
      // CDK NodejsFunction's default, and SAM's and serverless-esbuild's.
      'esbuild --format=cjs': async (dir: string) => {
        const outfile = join(dir, 'app.cjs');
        await (fromApp('esbuild') as typeof import('esbuild')).build({
          entryPoints: [entryFor('cjs')],
          bundle: true,
          platform: 'node',
          target: 'node20',
          format: 'cjs',
          outfile,
          logLevel: 'silent',
          external: ['pg-native'],
        });
        return outfile;
      },
      // With the `createRequire` banner those tools add for CommonJS dependencies.
      'esbuild --format=esm': async (dir: string) => {
        const outfile = join(dir, 'app.mjs');
        await (fromApp('esbuild') as typeof import('esbuild')).build({
          entryPoints: [entryFor('esm')],
          bundle: true,
          platform: 'node',
          target: 'node20',
          format: 'esm',
          outfile,
          logLevel: 'silent',
          external: ['pg-native'],
          banner: {
            js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
          },
        });
        return outfile;
      },
      // webpack splits the SDK's lazily imported credential chain into chunks of its own.
      'webpack (target node, commonjs2)': async (dir: string) => {
        const webpack = fromApp('webpack') as (
          config: object,
          done: (
            err: Error | null,
            stats?: { hasErrors(): boolean; toString(o: string): string },
          ) => void,
        ) => void;
        await new Promise<void>((resolve, reject) =>
          webpack(
            {
              mode: 'production',
              target: 'node20',
              entry: entryFor('cjs'),
              output: { path: dir, filename: 'app.cjs', chunkFilename: '[id].cjs' },
              externals: { 'pg-native': 'commonjs pg-native' },
              optimization: { minimize: false },
              devtool: false,
            },
            (err, stats) =>
              err || stats?.hasErrors()
                ? reject(err ?? new Error(stats?.toString('errors-only')))
                : resolve(),
          ),
        );
        return join(dir, 'app.cjs');
      },
      'Rollup (ES module, node-resolve + commonjs + json)': async (dir: string) => {
        const load = async (name: string) =>
          (await import(pathToFileURL(createRequire(join(app, 'package.json')).resolve(name)).href))
            .default;
        const { rollup } = await import(
          pathToFileURL(createRequire(join(app, 'package.json')).resolve('rollup')).href
        );
        const [nodeResolve, commonjs, json] = await Promise.all([
          load('@rollup/plugin-node-resolve'),
          load('@rollup/plugin-commonjs'),
          load('@rollup/plugin-json'),
        ]);
        const bundle = await rollup({
          input: entryFor('esm'),
          external: ['pg-native'],
          plugins: [nodeResolve({ preferBuiltins: true }), commonjs(), json()],
          onwarn: () => {},
        });
        await bundle.write({
          dir,
          format: 'es',
          entryFileNames: 'app.mjs',
          chunkFileNames: '[name]-[hash].mjs',
        });
        await bundle.close();
        return join(dir, 'app.mjs');
      },
    };

    for (const [bundler, build] of Object.entries(BUNDLERS)) {
      test(`${bundler}: mints, verifies TLS with the bundled RDS CAs, logs in, exits by itself`, async () => {
        const isolated = mkdtempSync(join(work, 'bundle-'));
        const outfile = await build(isolated);
        const before = iam.emulator.counters().accepted;
        const out = await node([outfile], isolated, {
          PATH: process.env.PATH,
          RDS_HOST: iam.host,
          RDS_PORT: String(iam.port),
          RDS_USER: user.user,
          RDS_DATABASE: user.database,
          RDS_SIGNING_HOST: iam.endpoint.host,
          RDS_SIGNING_PORT: String(iam.endpoint.port),
          RDS_REGION: iam.region,
          EMULATOR_CA: iam.ca,
          AWS_ACCESS_KEY_ID: iam.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: iam.credentials.secretAccessKey,
          AWS_EC2_METADATA_DISABLED: 'true',
        });
        const result = JSON.parse(out) as { user: string; rdsCas: number };
        expect(result.user).toBe(user.user);
        expect(result.rdsCas).toBeGreaterThan(100);
        expect(iam.emulator.counters().accepted).toBe(before + 1);
      }, 60_000);
    }
  },
);
