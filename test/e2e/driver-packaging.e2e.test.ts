// @rds-iam/pg and @rds-iam/mysql2 as users load them: ESM import and CommonJS require of the built
// packages in fresh processes, and the pure-JS pg client kept even when pg-native is forced.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const testDir = join(root, 'test');

const PACKAGES = [
  {
    name: '@rds-iam/pg',
    dir: 'packages/pg',
    exports: ['createClient', 'createPool', 'pgIamConfig'],
  },
  {
    name: '@rds-iam/mysql2',
    dir: 'packages/mysql2',
    exports: ['createConnection', 'createPool', 'mysql2IamConfig'],
  },
] as const;

async function node(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await run(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return stdout.trim();
}

describe('loading the built packages', () => {
  for (const pkg of PACKAGES) {
    test(`${pkg.name}: import and require() give the same API`, async () => {
      const cwd = join(root, pkg.dir);
      const list = 'Object.keys(m).filter((k) => k !== "default").sort()';
      const [esm, cjs] = await Promise.all([
        node(
          [
            '--input-type=module',
            '-e',
            `import * as m from '${pkg.name}'; console.log(JSON.stringify(${list}));`,
          ],
          cwd,
        ),
        node(
          ['-e', `const m = require('${pkg.name}'); console.log(JSON.stringify(${list}));`],
          cwd,
        ),
      ]);
      const esmKeys = JSON.parse(esm) as string[];
      expect(JSON.parse(cjs)).toEqual(esmKeys);
      expect(esmKeys).toEqual(expect.arrayContaining([...pkg.exports]));
    });
  }
});

describe.runIf(hasDatabase('postgres'))('@rds-iam/pg with pg-native forced', () => {
  let iam: IamEndpoint;
  let app: IamUser;
  let stubDir: string;

  beforeAll(async () => {
    [iam, app] = await Promise.all([startIamEndpoint('postgres'), createIamUser('postgres')]);
    // pg-native needs libpq and a native build that this repository does not install; a stub on
    // NODE_PATH stands in for it. Loading it is fine (pg requires it at once when forced); using it
    // throws, so any connection made through the native client would fail loudly.
    stubDir = mkdtempSync(join(tmpdir(), 'rds-iam-pg-native-'));
    mkdirSync(join(stubDir, 'pg-native'));
    writeFileSync(
      join(stubDir, 'pg-native', 'package.json'),
      JSON.stringify({ name: 'pg-native', version: '3.9.0', main: 'index.js' }),
    );
    writeFileSync(
      join(stubDir, 'pg-native', 'index.js'),
      `module.exports = function Client() { throw new Error('pg-native stub: the native client was used'); };\n`,
    );
  });
  afterAll(async () => {
    await iam.stop();
    rmSync(stubDir, { recursive: true, force: true });
  });

  /** Runs a child with NODE_PG_FORCE_NATIVE=1 and pg-native from `nodePath`; returns its report. */
  async function forcedNative(nodePath: string): Promise<Record<string, unknown>> {
    const options = {
      host: iam.host,
      port: iam.port,
      user: app.user,
      database: app.database,
      region: iam.region,
      signingHost: iam.endpoint.host,
      signingPort: iam.endpoint.port,
      credentials: iam.credentials,
      ssl: { ca: iam.ca },
    };
    const script = `
      import pg from 'pg';
      import jsClient from 'pg/lib/client.js';
      import { createClient, createPool } from '@rds-iam/pg';
      const options = JSON.parse(process.env.E2E_OPTIONS);
      const pool = createPool(options);
      const { rows } = await pool.query('SELECT session_user AS u');
      await pool.end();
      const client = createClient(options);
      await client.connect();
      const single = await client.query('SELECT 1 AS one');
      await client.end();
      console.log(JSON.stringify({
        nativeExported: pg.Client !== jsClient,
        clientIsJs: client instanceof jsClient,
        user: rows[0].u,
        one: single.rows[0].one,
      }));
    `;
    iam.emulator.resetCounters();
    const out = await node(['--input-type=module', '-e', script], testDir, {
      NODE_PG_FORCE_NATIVE: '1',
      NODE_PATH: nodePath,
      E2E_OPTIONS: JSON.stringify(options),
    });
    return JSON.parse(out) as Record<string, unknown>;
  }

  test('NODE_PG_FORCE_NATIVE=1 with a pg-native that throws if used: createPool and createClient log in with the pure-JS client', async () => {
    expect(await forcedNative(stubDir)).toEqual({
      nativeExported: true,
      clientIsJs: true,
      user: app.user,
      one: 1,
    });
    expect(iam.emulator.counters()).toMatchObject({ accepted: 2, rejected: 0 });
  });
});
