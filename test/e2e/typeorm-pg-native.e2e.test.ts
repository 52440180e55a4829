import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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

// TypeORM switches to pg-native by itself when `pg-native` can be loaded, and NODE_PG_FORCE_NATIVE
// makes `pg` export the native client. pg-native turns a password function into text, so
// @rds-iam/typeorm must keep the pure-JS driver in both cases. The real pg-native needs libpq and a
// compiler; this test puts a stub `pg-native` on the resolution path (NODE_PATH) of a child process
// instead: it loads fine, and throws (and says so) if a native client is ever created. To run the
// same checks against a real build, point RDS_IAM_TEST_PG_NATIVE_PATH at a node_modules folder that
// holds pg-native (the control test, which needs the stub, is skipped then).

const REAL_PG_NATIVE = process.env.RDS_IAM_TEST_PG_NATIVE_PATH;

const TEST_DIR = fileURLToPath(new URL('..', import.meta.url));

const STUB = `
module.exports = function PgNativeStub() {
  process.stdout.write('PG_NATIVE_USED\\n');
  throw new Error('pg-native stub: the native driver was used');
};
`;

/** Runs in the child (cwd test/): one DataSource, one query, one line of JSON out. */
const CHILD = `
import { DataSource } from 'typeorm';
import { iamDataSourceOptions } from '@rds-iam/typeorm';
const t = JSON.parse(process.env.RDS_IAM_TARGET);
const plain = process.argv.includes('plain');
const options = plain
  ? { type: 'postgres', host: t.host, port: t.port, username: t.user, database: t.database,
      password: 'not-a-token', ssl: { ca: t.ca, servername: t.signingHost } }
  : iamDataSourceOptions({ type: 'postgres', host: t.host, port: t.port, username: t.user,
      database: t.database, region: t.region, signingHost: t.signingHost, signingPort: t.signingPort,
      credentials: t.credentials, ssl: { ca: t.ca } });
const ds = new DataSource(options);
try {
  await ds.initialize();
  const [row] = await ds.query('SELECT session_user AS u');
  console.log(JSON.stringify({ ok: true, user: row.u }));
  await ds.destroy();
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err?.message ?? err) }));
}
`;

interface ChildResult {
  ok: boolean;
  user?: string;
  error?: string;
  nativeUsed: boolean;
}

describe.runIf(hasDatabase('postgres'))('TypeORM postgres with pg-native on the path', () => {
  let iam: IamEndpoint;
  let app: IamUser;
  let stubDir: string;

  beforeAll(async () => {
    [iam, app] = await Promise.all([startIamEndpoint('postgres'), createIamUser('postgres')]);
    stubDir = await mkdtemp(join(tmpdir(), 'rds-iam-pg-native-'));
    await mkdir(join(stubDir, 'pg-native'));
    await writeFile(join(stubDir, 'pg-native', 'index.js'), STUB);
    await writeFile(
      join(stubDir, 'pg-native', 'package.json'),
      JSON.stringify({ name: 'pg-native', version: '3.0.0-stub', main: 'index.js' }),
    );
  });
  afterAll(async () => {
    await iam.stop();
    await app.drop();
    await rm(stubDir, { recursive: true, force: true });
  });

  function run(env: Record<string, string>, ...args: string[]): Promise<ChildResult> {
    const target = {
      host: iam.host,
      port: iam.port,
      user: app.user,
      database: app.database,
      region: iam.region,
      signingHost: iam.endpoint.host,
      signingPort: iam.endpoint.port,
      credentials: iam.credentials,
      ca: iam.ca,
    };
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.NODE_OPTIONS;
    childEnv.NODE_PATH = REAL_PG_NATIVE ?? stubDir;
    childEnv.RDS_IAM_TARGET = JSON.stringify(target);
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        ['--input-type=module', '--eval', CHILD, '--', ...args],
        { cwd: TEST_DIR, env: childEnv, timeout: 30_000 },
        (err, stdout, stderr) => {
          const lines = stdout.trim().split('\n');
          const last = lines.at(-1) ?? '';
          if (!last.startsWith('{')) {
            reject(new Error(`child failed: ${err?.message ?? ''}\n${stdout}\n${stderr}`));
            return;
          }
          resolve({
            ...(JSON.parse(last) as ChildResult),
            nativeUsed: lines.includes('PG_NATIVE_USED'),
          });
        },
      );
    });
  }

  test.skipIf(REAL_PG_NATIVE !== undefined)(
    'the stub is on the path: plain TypeORM picks pg-native (control)',
    async () => {
      const result = await run({}, 'plain');
      expect(result).toMatchObject({ ok: false, nativeUsed: true });
      expect(result.error).toMatch(/pg-native stub/);
    },
  );

  test('iamDataSourceOptions keeps the pure-JS driver when pg-native is installed', async () => {
    iam.emulator.resetCounters();
    const result = await run({});
    expect(result).toEqual({ ok: true, user: app.user, nativeUsed: false });
    expect(iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
  });

  test('...and under NODE_PG_FORCE_NATIVE', async () => {
    iam.emulator.resetCounters();
    const result = await run({ NODE_PG_FORCE_NATIVE: '1' });
    expect(result).toEqual({ ok: true, user: app.user, nativeUsed: false });
    expect(iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
  });
});
