import net from 'node:net';
import { afterAll, describe, expect, test } from 'vitest';
import {
  adminQuery,
  cleanupHarness,
  containerImage,
  createIamUser,
  type Discovery,
  databaseFor,
  discoverDatabases,
  ENGINES,
  HarnessError,
  hasDatabase,
  listHarnessObjects,
  loginAndQuery,
  mysqlConnect,
  NAME_PATTERN,
  newRunId,
  pendingCleanups,
  pgConnect,
  runStartOf,
  startIamEndpoint,
  uniqueName,
} from '../harness/index.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

async function nowhere() {
  return {
    postgres: { host: '127.0.0.1', port: await closedPort() },
    mysql: { host: '127.0.0.1', port: await closedPort() },
  };
}

describe('database discovery', () => {
  const started: Discovery[] = [];
  afterAll(async () => {
    for (const d of started) await d.stop();
  });

  test('under CI=true a missing database fails with a message that says what to set', async () => {
    const local = await nowhere();
    const run = discoverDatabases({
      env: { CI: 'true' },
      local,
      docker: false,
      pglite: false,
      timeoutMs: 1_000,
    });
    await expect(run).rejects.toBeInstanceOf(HarnessError);
    await expect(run).rejects.toThrow(/^CI=true and the end-to-end tests need both databases/);
    await expect(run).rejects.toThrow(/no PostgreSQL found: set RDS_IAM_TEST_POSTGRES_URL/);
    await expect(run).rejects.toThrow(/no MySQL found: set RDS_IAM_TEST_MYSQL_URL/);
    await expect(run).rejects.toThrow(`127.0.0.1:${local.mysql.port}`);
  });

  test('outside CI a missing database skips its suites and names them', async () => {
    const local = await nowhere();
    const found = await discoverDatabases({
      env: {},
      local,
      docker: false,
      pglite: false,
      timeoutMs: 1_000,
    });
    started.push(found);
    expect(found.postgres).toBeUndefined();
    expect(found.mysql).toBeUndefined();
    expect(found.skipped.map((s) => s.engine)).toEqual(['postgres', 'mysql']);
    expect(found.skipped[1]?.reason).toMatch(
      /^no MySQL found: set RDS_IAM_TEST_MYSQL_URL or start MariaDB\/MySQL on 127\.0\.0\.1:\d+ \(user root, empty password\); tried: 127\.0\.0\.1:\d+: .*no Docker engine/,
    );
  });

  test('RDS_IAM_TEST_CONTAINERS=1 passes over the local servers for Testcontainers, with the images RDS_IAM_TEST_*_IMAGE name', async () => {
    const found = await discoverDatabases({
      env: { RDS_IAM_TEST_CONTAINERS: '1' },
      docker: false,
      pglite: false,
      timeoutMs: 1_000,
    });
    started.push(found);
    // The local servers answer on this machine, yet neither was taken.
    expect(found.postgres).toBeUndefined();
    expect(found.mysql).toBeUndefined();
    for (const skipped of found.skipped) {
      expect(skipped.reason).toMatch(
        /skipped 127\.0\.0\.1:\d+ \(RDS_IAM_TEST_CONTAINERS=1\).*no Docker engine/,
      );
    }
    expect(containerImage('postgres', {})).toBe('postgres:15-alpine');
    expect(containerImage('mysql', { RDS_IAM_TEST_MYSQL_IMAGE: 'mysql:8.4' })).toBe('mysql:8.4');
    expect(containerImage('postgres', { RDS_IAM_TEST_POSTGRES_IMAGE: 'postgres:17' })).toBe(
      'postgres:17',
    );
  });

  test('a RDS_IAM_TEST_*_URL that does not answer is an error even outside CI, without its password', async () => {
    const port = await closedPort();
    const run = discoverDatabases({
      env: { RDS_IAM_TEST_MYSQL_URL: `mysql://admin:s3cr3t-pw@127.0.0.1:${port}/test` },
      docker: false,
      pglite: false,
      timeoutMs: 1_000,
    });
    await expect(run).rejects.toThrow(
      new RegExp(
        `^RDS_IAM_TEST_MYSQL_URL is set but 127\\.0\\.0\\.1:${port} does not answer as admin`,
      ),
    );
    await expect(run).rejects.not.toThrow(/s3cr3t/);
  });

  test.runIf(hasDatabase('postgres') && databaseFor('postgres')?.source !== 'pglite')(
    'RDS_IAM_TEST_POSTGRES_URL comes first',
    async () => {
      const pg = databaseFor('postgres');
      const url = `postgres://${pg?.adminUser}:${pg?.adminPassword}@${pg?.host}:${pg?.port}/${pg?.database}`;
      const found = await discoverDatabases({
        env: { RDS_IAM_TEST_POSTGRES_URL: url },
        local: { mysql: (await nowhere()).mysql },
        docker: false,
        pglite: false,
      });
      started.push(found);
      expect(found.postgres).toMatchObject({
        source: 'env',
        port: pg?.port,
        enforcesLoginUser: true,
      });
      expect(found.postgres?.description).toMatch(/^RDS_IAM_TEST_POSTGRES_URL/);
    },
  );

  test('with no PostgreSQL server, embedded PGlite answers on a loopback port', async () => {
    const found = await discoverDatabases({
      env: {},
      local: await nowhere(),
      docker: false,
      timeoutMs: 1_000,
    });
    started.push(found);
    const target = found.postgres;
    expect(target).toMatchObject({ source: 'pglite', host: '127.0.0.1', enforcesLoginUser: false });
    expect(target?.version).toMatch(/^PGlite \(PostgreSQL \d+/);
    if (!target) return;
    const rows = await adminQuery(target, 'SELECT 6 * 7 AS answer');
    expect(rows).toEqual([{ answer: 42 }]);
    await found.stop();
    await expect(adminQuery(target, 'SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
  });

  test('harness names carry the run start, so leftovers of killed runs can be told by age', () => {
    const at = Date.UTC(2030, 0, 1);
    const name = uniqueName(newRunId(at));
    expect(name).toMatch(NAME_PATTERN);
    expect(name.length).toBeLessThanOrEqual(32); // MySQL 5.7 user names
    expect(runStartOf(name)).toBe(at);
    expect(runStartOf('app_user')).toBeUndefined();
  });
});

for (const engine of ENGINES) {
  describe.runIf(hasDatabase(engine))(`${engine} harness teardown`, () => {
    test('cleanup stops emulators, ends sessions and drops every user and database it made', async () => {
      const target = databaseFor(engine);
      if (!target) throw new Error('unreachable');
      const [iam, app, plain] = await Promise.all([
        startIamEndpoint(engine),
        createIamUser(engine, { database: true }),
        createIamUser(engine),
      ]);
      const tokens = iam.tokenProvider(app.user);
      const login = { user: app.user, database: app.database, password: () => tokens.getToken() };
      // A session left open, as a failing test would leave it.
      let ping: () => Promise<unknown>;
      if (engine === 'postgres') {
        const client = await pgConnect(iam, login);
        ping = () => client.query('SELECT 1');
      } else {
        const conn = await mysqlConnect(iam, login);
        ping = () => conn.query('SELECT 1');
      }
      await ping();
      const during = await listHarnessObjects(target);
      expect(during.users).toEqual(expect.arrayContaining([app.user, plain.user]));
      if (target.enforcesLoginUser) expect(during.databases).toContain(app.user);
      expect(pendingCleanups()).toHaveLength(3);

      await cleanupHarness();

      expect(pendingCleanups()).toEqual([]);
      // The open session went down with the emulator.
      await expect(ping()).rejects.toThrow();
      const after = await listHarnessObjects(target);
      expect(after.users).not.toContain(app.user);
      expect(after.users).not.toContain(plain.user);
      expect(after.databases).not.toContain(app.user);
      await expect(tokens.getToken()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
      await expect(loginAndQuery(iam, login)).rejects.toThrow(/ECONNREFUSED|closed/i);
      await app.drop(); // idempotent after cleanup
    });
  });
}
