import { createClient, pgIamConfig } from '@rds-iam/pg';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';
import { driverScenarios } from './driver-scenarios.js';
import { endpointOptions, eventLog, MINUTE, pgDriver } from './driver-support.js';

// @rds-iam/pg end to end against the real PostgreSQL behind the emulator: the scenarios every
// driver passes (pool recycling across token expiry, rejections, rotating credentials, RDS Proxy
// signing), then what is particular to node-postgres.
driverScenarios(pgDriver);

describe.runIf(hasDatabase('postgres'))('@rds-iam/pg: config and single clients', () => {
  let iam: IamEndpoint;
  let app: IamUser;

  beforeAll(async () => {
    [iam, app] = await Promise.all([
      startIamEndpoint('postgres'),
      createIamUser('postgres', { database: true }),
    ]);
  });
  afterAll(() => iam.stop());

  test('pgIamConfig spread into a plain pg.Pool: each new connection gets a token from the hook, also after 16 minutes', async () => {
    const log = eventLog();
    iam.emulator.resetCounters();
    const pool = new pg.Pool({
      ...pgIamConfig({ ...endpointOptions(iam, app.user, app.database), onEvent: log.onEvent }),
      max: 1,
    });
    try {
      const one = await pool.connect();
      const { rows } = await one.query<{ u: string }>('SELECT session_user AS u');
      expect(rows[0]?.u).toBe(app.user);
      one.release(true); // destroyed: the next query opens a new connection
      iam.clock.advance(16 * MINUTE);
      await pool.query('SELECT 1');
      expect(log.minted()).toHaveLength(2);
      expect(iam.emulator.counters()).toMatchObject({ accepted: 2, rejected: 0 });
    } finally {
      await pool.end();
    }
  });

  test('createClient logs in with a connectionString merged under the explicit options', async () => {
    const {
      host: _host,
      port: _port,
      user: _user,
      database: _db,
      ...iamOptions
    } = endpointOptions(iam, app.user, app.database);
    iam.emulator.resetCounters();
    // Host, port and user come from the URL; the explicit `database` wins over the URL's.
    const client = createClient({
      ...iamOptions,
      connectionString: `${iam.emulator.url(app.user, 'not_this_one')}?sslmode=verify-full`,
      database: app.database,
    });
    await client.connect();
    try {
      const { rows } = await client.query<{ u: string; d: string }>(
        'SELECT session_user AS u, current_database() AS d',
      );
      expect(rows[0]).toEqual({ u: app.user, d: app.database });
    } finally {
      await client.end();
    }
    expect(iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
  });
});
