// The driver examples, run as users run them (`node index.mjs` in the example's folder), against the
// emulator: examples/pg-pool, examples/mysql2-pool, examples/postgres-js and the Drizzle and Kysely
// examples on those pools (through examples/local-endpoint, both in its
// local mode and with RDS_* variables) and examples/core-pg. Also: each package README's quick start
// is the example's snippet, word for word.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  type DatabaseTarget,
  databaseFor,
  type Engine,
  exampleEnv,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node index.mjs` in `examples/<name>`, with `env` over an environment stripped of AWS_* and RDS_*. */
function runExample(name: string, env: Record<string, string>): Promise<Run> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('RDS_')),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['index.mjs'],
      {
        cwd: join(root, 'examples', name),
        env: {
          ...base,
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

/** The admin URL examples/local-endpoint takes for the discovered database. */
function adminUrl(target: DatabaseTarget): string {
  const scheme = target.engine === 'postgres' ? 'postgres' : 'mysql';
  const auth = `${encodeURIComponent(target.adminUser)}${target.adminPassword ? `:${encodeURIComponent(target.adminPassword)}` : ''}`;
  return `${scheme}://${auth}@${target.host}:${target.port}/${target.engine === 'postgres' ? target.database : ''}`;
}

/** The text between `// --- snippet: NAME ---` and `// --- end snippet ---` in a file. */
function snippet(file: string, name: string): string {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.indexOf(`// --- snippet: ${name} ---`);
  const end = lines.indexOf('// --- end snippet ---', start);
  if (start < 0 || end < 0) throw new Error(`no snippet ${name} in ${file}`);
  return `${lines.slice(start + 1, end).join('\n')}\n`;
}

const EXAMPLES = [
  { name: 'pg-pool', engine: 'postgres', readme: 'packages/pg/README.md' },
  { name: 'mysql2-pool', engine: 'mysql', readme: 'packages/mysql2/README.md' },
  { name: 'postgres-js', engine: 'postgres', readme: 'packages/postgres/README.md' },
  { name: 'drizzle-postgres', engine: 'postgres', readme: 'README.md' },
  { name: 'drizzle-mysql', engine: 'mysql', readme: 'README.md' },
  { name: 'kysely-postgres', engine: 'postgres', readme: 'README.md' },
  { name: 'kysely-mysql', engine: 'mysql', readme: 'README.md' },
] as const satisfies readonly { name: string; engine: Engine; readme: string }[];

describe('README quick starts', () => {
  for (const example of EXAMPLES) {
    test(`${example.readme} shows examples/${example.name}'s snippet, word for word`, () => {
      const code = snippet(join(root, 'examples', example.name, 'index.mjs'), example.name);
      const readme = readFileSync(join(root, example.readme), 'utf8');
      expect(readme).toContain(`\`\`\`js\n${code}\`\`\``);
    });
  }
});

for (const example of EXAMPLES) {
  const { engine } = example;
  // The local mode creates a user and a database with the admin login: a real server only.
  describe.runIf(databaseFor(engine)?.enforcesLoginUser === true)(
    `examples/${example.name}`,
    () => {
      let iam: IamEndpoint;
      let app: IamUser;
      let caDir: string;

      beforeAll(async () => {
        [iam, app] = await Promise.all([
          startIamEndpoint(engine),
          createIamUser(engine, { database: true }),
        ]);
        caDir = mkdtempSync(join(tmpdir(), 'rds-iam-examples-'));
        writeFileSync(join(caDir, 'ca.pem'), iam.ca);
      });
      afterAll(async () => {
        await iam.stop();
        rmSync(caDir, { recursive: true, force: true });
      });

      test('local mode: starts the emulator in front of the local database and logs in as rds_iam_example', async () => {
        const target = databaseFor(engine);
        if (!target) throw new Error('no database');
        const run = await runExample(example.name, {
          [`RDS_IAM_EXAMPLE_${engine === 'postgres' ? 'POSTGRES' : 'MYSQL'}_URL`]: adminUrl(target),
        });
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
        expect(run.stdout).toMatch(
          /^minted a token for rds_iam_example@rds-iam-example[\w-]*\.cluster-c0ffee123456\.us-east-1\.rds\.amazonaws\.com:\d+$/m,
        );
        expect(run.stdout).toMatch(
          /^logged in as rds_iam_example to rds_iam_example via 127\.0\.0\.1:\d+; /m,
        );
        expect(run.stdout).not.toMatch(/X-Amz-Signature|Amz-Credential/);
      });

      test('RDS_* mode: logs in to the endpoint the variables name (here: an emulator, as through a tunnel)', async () => {
        iam.emulator.resetCounters();
        const run = await runExample(example.name, exampleEnv(iam, app, join(caDir, 'ca.pem')));
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
        expect(run.stdout).toContain(
          `minted a token for ${app.user}@${iam.endpoint.host}:${iam.endpoint.port}`,
        );
        expect(run.stdout).toContain(
          `logged in as ${app.user} to ${app.database} via ${iam.host}:${iam.port}; `,
        );
        expect(iam.emulator.counters().accepted).toBeGreaterThanOrEqual(1);
        expect(iam.emulator.counters().rejected).toBe(0);
      });
    },
  );
}

describe.runIf(databaseFor('postgres') !== undefined)('examples/core-pg', () => {
  let iam: IamEndpoint;
  let app: IamUser;
  let caDir: string;

  beforeAll(async () => {
    [iam, app] = await Promise.all([
      startIamEndpoint('postgres'),
      createIamUser('postgres', { database: true }),
    ]);
    caDir = mkdtempSync(join(tmpdir(), 'rds-iam-examples-'));
    writeFileSync(join(caDir, 'ca.pem'), iam.ca);
  });
  afterAll(async () => {
    await iam.stop();
    rmSync(caDir, { recursive: true, force: true });
  });

  test('logs in through the emulator with RDS_* variables and the demo keys', async () => {
    iam.emulator.resetCounters();
    const run = await runExample('core-pg', exampleEnv(iam, app, join(caDir, 'ca.pem')));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const expectedUser = databaseFor('postgres')?.enforcesLoginUser ? app.user : 'postgres';
    expect(run.stdout.trim()).toBe(`logged in as ${expectedUser} with an IAM token; 1 + 1 = 2`);
    expect(iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
  });

  test('an endpoint that is an IP address: no IP as the TLS server name (DEP0123; Bun and Deno refuse it)', async () => {
    // The emulator plays an endpoint named by its address, as RDS_HOST=127.0.0.1 with no signing host.
    const byAddress = await startIamEndpoint('postgres', { endpointHost: '127.0.0.1' });
    writeFileSync(join(caDir, 'ca-by-address.pem'), byAddress.ca);
    try {
      const run = await runExample('core-pg', {
        RDS_HOST: byAddress.host,
        RDS_PORT: String(byAddress.port),
        RDS_USER: app.user,
        RDS_DATABASE: app.database ?? '',
        RDS_REGION: byAddress.region,
        RDS_CA_FILE: join(caDir, 'ca-by-address.pem'),
        AWS_ACCESS_KEY_ID: byAddress.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: byAddress.credentials.secretAccessKey,
        NODE_OPTIONS: '--throw-deprecation',
      });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(byAddress.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
    } finally {
      await byAddress.stop();
    }
  });
});

describe('examples/local-endpoint without a local database', () => {
  test('PostgreSQL: an embedded PGlite stands in (RDS_IAM_EXAMPLE_EMBEDDED=1), as in the demo', async () => {
    const run = await runExample('pg-pool', { RDS_IAM_EXAMPLE_EMBEDDED: '1' });
    expect(run.stderr).toBe(
      'Using an embedded PostgreSQL (PGlite), because RDS_IAM_EXAMPLE_EMBEDDED=1.\n',
    );
    expect(run.code).toBe(0);
    // PGlite has one user: every login, the token checked by the emulator first, runs as postgres.
    expect(run.stdout).toMatch(/^minted a token for rds_iam_example@rds-iam-example\.cluster-/m);
    expect(run.stdout).toMatch(/^logged in as postgres to rds_iam_example via .*PGlite/m);
  });

  test('MySQL: one line that says what to start, and exit code 1', async () => {
    // A port nothing listens on: bound, then closed.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const run = await runExample('mysql2-pool', {
      RDS_IAM_EXAMPLE_MYSQL_URL: `mysql://root@127.0.0.1:${port}`,
    });
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 1, stdout: '' });
    expect(run.stderr).toBe(
      `No MySQL or MariaDB answered on 127.0.0.1:${port} (RDS_IAM_EXAMPLE_MYSQL_URL). Start one there (its admin user root without a password, e.g. \`sudo service mariadb start\`), set RDS_IAM_EXAMPLE_MYSQL_URL to an admin URL of yours, or RDS_HOST and RDS_USER to log in to a real endpoint.\n`,
    );
  });
});
