import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';

// Issue 24: each ORM's migrations CLI reads a configuration file of its own (knexfile, TypeORM data
// source, sequelize-cli config, MikroORM config, drizzle.config.ts). examples/migrations-cli has one
// per ORM, each built on the same database module as the app; this runs every CLI as a team would
// (up, the app, down) with the environment of a real deployment (RDS_* variables, AWS keys, the CA as
// a file), against the emulator, and checks that every login was an IAM token the emulator verified.

const EXAMPLE = fileURLToPath(new URL('../../examples/migrations-cli/', import.meta.url));
const BIN = join(EXAMPLE, 'node_modules/.bin');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe.runIf(hasDatabase('postgres'))(
  'migrations CLIs logging in with IAM (examples/migrations-cli)',
  () => {
    let iam: IamEndpoint;
    let app: IamUser;
    let dir: string;
    let env: NodeJS.ProcessEnv;

    beforeAll(async () => {
      [iam, app] = await Promise.all([
        startIamEndpoint('postgres'),
        createIamUser('postgres', { database: true }),
      ]);
      dir = await mkdtemp(join(tmpdir(), 'rds-iam-migrations-cli-'));
      const caFile = join(dir, 'emulator-ca.pem');
      await writeFile(caFile, iam.ca);
      env = { PATH: process.env.PATH, HOME: process.env.HOME };
      Object.assign(env, {
        RDS_HOST: iam.host,
        RDS_PORT: String(iam.port),
        RDS_USER: app.user,
        RDS_DATABASE: app.database,
        RDS_REGION: iam.region,
        RDS_SIGNING_HOST: iam.endpoint.host,
        RDS_SIGNING_PORT: String(iam.endpoint.port),
        RDS_CA_FILE: caFile,
        // As a config schema leaves an unset password.
        DB_PASSWORD: '',
        AWS_ACCESS_KEY_ID: iam.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: iam.credentials.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: join(dir, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
      });
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    /** Runs a step; it must succeed, print no token, and log in only with tokens the emulator took. */
    async function step(command: string, args: string[], cwd: string): Promise<string> {
      iam.emulator.resetCounters();
      const result = await run(command, args, join(EXAMPLE, cwd), env);
      expect({
        code: result.code,
        stderr: result.code === 0 ? '' : result.stderr + result.stdout,
      }).toEqual({
        code: 0,
        stderr: '',
      });
      expect(result.stdout + result.stderr).not.toMatch(/X-Amz-Signature|X-Amz-Credential/);
      const counters = iam.emulator.counters();
      expect(counters.accepted).toBeGreaterThanOrEqual(1);
      expect(counters.rejected).toBe(0);
      return result.stdout;
    }

    const appRan = (stdout: string) =>
      expect(stdout).toContain(
        `logged in as ${app.user} with an IAM token; notes: written by the app`,
      );

    test('knex: knex migrate:latest and migrate:rollback read the knexfile the app imports', async () => {
      const cli = [join(BIN, 'knex')];
      expect(
        await step(cli[0] as string, ['migrate:latest', '--knexfile', 'knexfile.mjs'], 'knex'),
      ).toMatch(/Batch 1 run: 1 migrations/);
      appRan(await step(process.execPath, ['app.mjs'], 'knex'));
      expect(
        await step(
          cli[0] as string,
          ['migrate:rollback', '--all', '--knexfile', 'knexfile.mjs'],
          'knex',
        ),
      ).toMatch(/rolled back: 1 migrations/i);
    });

    test('TypeORM: typeorm migration:run and migration:revert read the data source the app imports', async () => {
      const cli = join(BIN, 'typeorm');
      expect(await step(cli, ['migration:run', '-d', 'data-source.mjs'], 'typeorm')).toMatch(
        /Migration CliTypeormNotes1767225600000 has been executed successfully/,
      );
      appRan(await step(process.execPath, ['app.mjs'], 'typeorm'));
      expect(await step(cli, ['migration:revert', '-d', 'data-source.mjs'], 'typeorm')).toMatch(
        /Migration CliTypeormNotes1767225600000 has been reverted successfully/,
      );
    });

    test('Sequelize: sequelize-cli db:migrate and db:migrate:undo:all read the config the app imports', async () => {
      const cli = join(BIN, 'sequelize-cli');
      expect(await step(cli, ['db:migrate'], 'sequelize')).toMatch(
        /20260101000000-cli-sequelize-notes: migrated/,
      );
      appRan(await step(process.execPath, ['app.mjs'], 'sequelize'));
      expect(await step(cli, ['db:migrate:undo:all'], 'sequelize')).toMatch(
        /20260101000000-cli-sequelize-notes: reverted/,
      );
    });

    test('MikroORM 6: mikro-orm migration:up and migration:down read the config the app imports', async () => {
      const cli = join(BIN, 'mikro-orm');
      const config = ['--config', 'mikro-orm.config.mjs'];
      env.MIKRO_ORM_CLI_USE_TS_NODE = 'false';
      expect(await step(cli, ['migration:up', ...config], 'mikro-orm')).toMatch(
        /Successfully migrated up to the latest version/,
      );
      appRan(await step(process.execPath, ['app.mjs'], 'mikro-orm'));
      expect(await step(cli, ['migration:down', ...config], 'mikro-orm')).toMatch(
        /Successfully migrated down/,
      );
    });

    test('Drizzle Kit: drizzle-kit migrate with a URL that rds-iam url minted before the run', async () => {
      const url = await run(
        join(BIN, 'rds-iam'),
        [
          'url',
          '--engine',
          'postgres',
          '--host',
          env.RDS_HOST as string,
          '--port',
          env.RDS_PORT as string,
          '--user',
          env.RDS_USER as string,
          '--database',
          env.RDS_DATABASE as string,
          '--region',
          env.RDS_REGION as string,
          '--signing-host',
          env.RDS_SIGNING_HOST as string,
          '--signing-port',
          env.RDS_SIGNING_PORT as string,
          '--ca-file',
          env.RDS_CA_FILE as string,
        ],
        EXAMPLE,
        env,
      );
      expect(url.code).toBe(0);
      const withUrl = { ...env, DATABASE_URL: url.stdout.trim() };
      iam.emulator.resetCounters();
      const migrate = await run(
        join(BIN, 'drizzle-kit'),
        ['migrate'],
        join(EXAMPLE, 'drizzle'),
        withUrl,
      );
      expect({
        code: migrate.code,
        out: migrate.code === 0 ? '' : migrate.stdout + migrate.stderr,
      }).toEqual({
        code: 0,
        out: '',
      });
      expect(migrate.stdout + migrate.stderr).not.toMatch(/X-Amz-Signature|X-Amz-Credential/);
      expect(iam.emulator.counters()).toMatchObject({ rejected: 0 });
      expect(iam.emulator.counters().accepted).toBeGreaterThanOrEqual(1);
      appRan(await step(process.execPath, ['app.mjs'], 'drizzle'));
    });

    test('Drizzle Kit cannot take a password function: it refuses the config before connecting', async () => {
      const config = join(dir, 'drizzle.password-function.config.js');
      await writeFile(
        config,
        `module.exports = { dialect: 'postgresql', out: './migrations', dbCredentials: { host: ${JSON.stringify(env.RDS_HOST)}, port: ${env.RDS_PORT}, user: 'app', database: 'app', password: async () => 'a-token' } };\n`,
      );
      iam.emulator.resetCounters();
      const migrate = await run(
        join(BIN, 'drizzle-kit'),
        ['migrate', '--config', config],
        join(EXAMPLE, 'drizzle'),
        env,
      );
      expect(migrate.code).not.toBe(0);
      expect(migrate.stdout + migrate.stderr).toMatch(/password/);
      expect(iam.emulator.counters().connectionsOpened).toBe(0);
    });
  },
);
