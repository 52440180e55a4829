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

// knex's pg client creates connections with `new (require('pg').Client)(connection)`. With
// pg-native merely installed that is the pure-JS client; NODE_PG_FORCE_NATIVE makes it the native
// one, which turns the password function into text (and ignores the `ssl` object). The real
// pg-native needs libpq and a compiler; a stub `pg-native` on the child's NODE_PATH stands in for
// it: it loads fine and throws (and says so) when a native client is created. Set
// RDS_IAM_TEST_PG_NATIVE_PATH to a node_modules folder with a real pg-native to use that instead.

const REAL_PG_NATIVE = process.env.RDS_IAM_TEST_PG_NATIVE_PATH;
const TEST_DIR = fileURLToPath(new URL('..', import.meta.url));

const STUB = `
module.exports = function PgNativeStub() {
  process.stdout.write('PG_NATIVE_USED\\n');
  throw new Error('pg-native stub: the native driver was used');
};
`;

/** Runs in the child (cwd test/): one knex, one query, one line of JSON out. */
const CHILD = `
import knex from 'knex';
import { iamConnection } from '@rds-iam/knex';
const t = JSON.parse(process.env.RDS_IAM_TARGET);
let db;
try {
  db = knex({
    client: 'pg',
    connection: iamConnection({ host: t.host, port: t.port, user: t.user, database: t.database,
      region: t.region, signingHost: t.signingHost, signingPort: t.signingPort,
      credentials: t.credentials, ssl: { ca: t.ca } }),
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout: 10000,
  });
  const { rows } = await db.raw('SELECT session_user AS u');
  console.log(JSON.stringify({ ok: true, user: rows[0].u }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err?.message ?? err), code: err?.code }));
} finally {
  await db?.destroy();
}
`;

interface ChildResult {
  ok: boolean;
  user?: string;
  error?: string;
  code?: string;
  nativeUsed: boolean;
}

describe.runIf(hasDatabase('postgres'))('knex pg with pg-native on the path', () => {
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

  function run(env: Record<string, string>): Promise<ChildResult> {
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
        ['--input-type=module', '--eval', CHILD],
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

  test('pg-native installed: knex keeps the pure-JS client and logs in', async () => {
    iam.emulator.resetCounters();
    const result = await run({});
    expect(result).toEqual({ ok: true, user: app.user, nativeUsed: false });
    expect(iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
  });

  test('NODE_PG_FORCE_NATIVE: never a native connection with the password function as text', async () => {
    iam.emulator.resetCounters();
    const result = await run({ NODE_PG_FORCE_NATIVE: '1' });
    // Either iamConnection() keeps knex on the pure-JS client, or it refuses before connecting.
    expect(result.nativeUsed).toBe(false);
    if (!result.ok) expect(result.code).toBe('ERR_CONFLICTING_OPTIONS');
    expect(iam.emulator.counters().rejected).toBe(0);
  });
});
