import { createRequire } from 'node:module';
import { parseAuthToken } from '@rds-iam/core';
import { createConnection, createPool, mysql2IamConfig } from '@rds-iam/mysql2';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';
import { driverScenarios } from './driver-scenarios.js';
import { endpointOptions, eventLog, MINUTE, mysql2Driver, rejectionOf } from './driver-support.js';

// @rds-iam/mysql2 end to end against the real MariaDB/MySQL behind the emulator: the scenarios every
// driver passes (pool recycling across token expiry, rejections, rotating credentials, RDS Proxy
// signing), then what is particular to mysql2 (the cleartext plugin gate, `uri`).
driverScenarios(mysql2Driver);

describe.runIf(hasDatabase('mysql'))('@rds-iam/mysql2: cleartext plugin and config', () => {
  let iam: IamEndpoint;
  let app: IamUser;

  beforeAll(async () => {
    [iam, app] = await Promise.all([
      startIamEndpoint('mysql'),
      createIamUser('mysql', { database: true }),
    ]);
  });
  afterAll(() => iam.stop());

  test('mysql2 >= 3.22 logs in without enableCleartextPlugin, which plain mysql2 would need', async () => {
    const version = String(createRequire(import.meta.url)('mysql2/package.json').version);
    const [major, minor] = version.split('.').map(Number);
    expect((major ?? 0) * 1000 + (minor ?? 0)).toBeGreaterThanOrEqual(3022);

    const options = endpointOptions(iam, app.user, app.database);
    const config = mysql2IamConfig(options);
    expect(config).not.toHaveProperty('enableCleartextPlugin');
    expect(typeof config.authPlugins.mysql_clear_password).toBe('function');

    // Control: the same driver handed a valid token as a plain password refuses the server's switch.
    const tokens = iam.tokenProvider(app.user);
    const plain = await rejectionOf(
      mysql.createConnection({
        host: iam.host,
        port: iam.port,
        user: app.user,
        database: app.database,
        password: await tokens.getToken(),
        ssl: { ca: iam.ca },
      }),
    );
    expect(plain).toMatchObject({ code: 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED' });

    // The config in mysql2's own pool, and createConnection: both log in.
    iam.emulator.resetCounters();
    const pool = mysql.createPool(config);
    try {
      const [rows] = await pool.query<mysql.RowDataPacket[]>(
        'SELECT SUBSTRING_INDEX(USER(), "@", 1) AS u, DATABASE() AS d',
      );
      expect(rows[0]).toMatchObject({ u: app.user, d: app.database });
    } finally {
      await pool.end();
    }
    const connection = await createConnection(options);
    await connection.query('SELECT 1');
    await connection.end();
    expect(iam.emulator.counters()).toMatchObject({ accepted: 2, rejected: 0 });
  });

  test('resumed TLS sessions (mysql2 caches them per pool) still log in, the certificate having been checked once', async () => {
    iam.emulator.resetCounters();
    const pool = createPool({
      ...endpointOptions(iam, app.user, app.database),
      connectionLimit: 1,
    });
    const resumed: boolean[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const connection = await pool.getConnection();
        const stream = Reflect.get(Reflect.get(connection, 'connection') as object, 'stream') as {
          isSessionReused(): boolean;
        };
        resumed.push(stream.isSessionReused());
        await connection.query('SELECT 1');
        connection.destroy(); // the next getConnection() opens a new connection
      }
    } finally {
      await pool.end();
    }
    // A resumed session shows no certificate, so the name check relies on the first, full handshake.
    expect(resumed).toEqual([false, true, true]);
    expect(iam.emulator.counters()).toMatchObject({ accepted: 3, rejected: 0 });
  });

  test('a uri is merged under the explicit options; 16 minutes later a new connection gets a new token', async () => {
    const {
      host: _h,
      port: _p,
      user: _u,
      database: _d,
      ...iamOptions
    } = endpointOptions(iam, app.user, app.database);
    const log = eventLog();
    const presented: string[] = [];
    const tokens = iam.tokenProvider(app.user, { onEvent: log.onEvent });
    const tokenProvider = {
      ...tokens,
      getToken: async () => {
        const token = await tokens.getToken();
        presented.push(token);
        return token;
      },
      invalidate: tokens.invalidate.bind(tokens),
      peek: tokens.peek.bind(tokens),
      close: tokens.close.bind(tokens),
    };
    iam.emulator.resetCounters();
    const open = () =>
      createConnection({
        ...iamOptions,
        uri: iam.emulator.url(app.user, 'not_this_one'),
        database: app.database,
        tokenProvider,
      });
    const first = await open();
    const [rows] = await first.query<mysql.RowDataPacket[]>('SELECT DATABASE() AS d');
    expect(rows[0]?.d).toBe(app.database);
    await first.end();

    iam.clock.advance(16 * MINUTE);
    const second = await open();
    await second.end();

    expect(presented).toHaveLength(2);
    const [a, b] = presented.map((t) => parseAuthToken(t));
    expect(a?.host).toBe(iam.endpoint.host);
    expect((b?.issuedAt.getTime() ?? 0) - (a?.issuedAt.getTime() ?? 0)).toBeGreaterThanOrEqual(
      16 * MINUTE - 1_000,
    );
    expect(log.minted()).toHaveLength(2);
    expect(iam.emulator.counters()).toMatchObject({ accepted: 2, rejected: 0 });
  });
});
