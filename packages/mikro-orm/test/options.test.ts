import type { Configuration, IDatabaseDriver } from '@mikro-orm/core';
import { describe, expect, it } from 'vitest';
import { iamMikroOrmOptions } from '../src/index.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const REPLICA = 'mydb-ro.abc123xyz.us-east-1.rds.amazonaws.com';

/** What the integration touches of MikroORM 6's SQL connection, with a knex client that counts. */
class FakeConnection {
  opened = 0;
  failures: unknown[] = [];
  constructor(readonly options: { host?: string; port?: number; user?: string }) {}
  getKnexOptions(_type: unknown): { connection: Record<string, unknown> } {
    // MikroORM's own settings (type parsers, time zone) are computed here.
    return { connection: { ...this.options, timezone: 'Z' } };
  }
  createKnexClient(type: unknown) {
    const settings = this.getKnexOptions(type).connection;
    const acquireRawConnection = async () => {
      this.opened += 1;
      const failure = this.failures.shift();
      if (failure) throw failure;
      return settings;
    };
    return { client: { acquireRawConnection } };
  }
}

/** Named as MikroORM's, so the engine is found from the class name. */
function fakeDriver(name: string) {
  const Driver = class {
    connection: FakeConnection;
    replicas: FakeConnection[];
    constructor(config: Configuration) {
      const c = config as unknown as { host: string; port: number; user: string; replicas?: [] };
      this.connection = new FakeConnection(c);
      this.replicas = (c.replicas ?? []).map(
        (r: object) => new FakeConnection({ port: c.port, user: c.user, ...r }),
      );
    }
  };
  Object.defineProperty(Driver, 'name', { value: name });
  return Driver as unknown as new (
    config: Configuration,
  ) => IDatabaseDriver;
}

function driver(options: object) {
  const { driver: Driver, ...config } = options as { driver: new (c: object) => unknown };
  return new Driver(config) as { connection: FakeConnection; replicas: FakeConnection[] };
}

describe('iamMikroOrmOptions', () => {
  it('PostgreSQL: the password hook and TLS go in after MikroORM’s own knex settings', async () => {
    const options = iamMikroOrmOptions({
      driver: fakeDriver('PostgreSqlDriver'),
      host: HOST,
      user: 'app',
      dbName: 'app',
    });
    expect(options).toMatchObject({ host: HOST, port: 5432, user: 'app', dbName: 'app' });
    expect(options).not.toHaveProperty('password');
    expect((options.driver as { name: string }).name).toBe('PostgreSqlDriver');
    const { connection } = driver(options);
    const settings = connection.getKnexOptions('pg').connection;
    expect(settings).toMatchObject({
      timezone: 'Z',
      host: HOST,
      ssl: { rejectUnauthorized: true },
    });
    expect(typeof settings.password).toBe('function');
  });

  it('MySQL gets the cleartext plugin, MariaDB the stream hook', () => {
    const mysql = driver(
      iamMikroOrmOptions({ driver: fakeDriver('MySqlDriver'), host: HOST, user: 'app' }),
    ).connection.getKnexOptions('mysql2').connection;
    expect(typeof (mysql.authPlugins as Record<string, unknown>).mysql_clear_password).toBe(
      'function',
    );
    expect(mysql.password).toBeUndefined();
    const mariadb = driver(
      iamMikroOrmOptions({ driver: fakeDriver('MariaDbDriver'), host: HOST, user: 'app' }),
    ).connection.getKnexOptions('mariadb').connection;
    expect(typeof mariadb.stream).toBe('function');
    expect(mariadb.authPlugins).toBeUndefined();
  });

  it('each replica gets the settings of its own host', () => {
    const { connection, replicas } = driver(
      iamMikroOrmOptions({
        driver: fakeDriver('PostgreSqlDriver'),
        host: HOST,
        user: 'app',
        replicas: [{ host: REPLICA, ssl: { ca: 'replica CA', rejectUnauthorized: true } }],
      }),
    );
    expect(connection.getKnexOptions('pg').connection.ssl).toMatchObject({ servername: HOST });
    expect(replicas[0]?.getKnexOptions('pg').connection.ssl).toMatchObject({
      servername: REPLICA,
      ca: 'replica CA',
    });
  });

  it('knex opens connections through the connector: one retry after a rejection, never more', async () => {
    const { connection } = driver(
      iamMikroOrmOptions({ driver: fakeDriver('MySqlDriver'), host: HOST, user: 'app' }),
    );
    const knex = connection.createKnexClient('mysql2');
    const rejected = Object.assign(new Error('Access denied'), { errno: 1045 });
    connection.failures.push(rejected);
    await expect(knex.client.acquireRawConnection()).resolves.toMatchObject({ host: HOST });
    expect(connection.opened).toBe(2);
    connection.failures.push(rejected, rejected);
    await expect(knex.client.acquireRawConnection()).rejects.toMatchObject({
      code: 'ERR_AUTH_REJECTED',
    });
    expect(connection.opened).toBe(4);
  });

  it('a driver whose connections are not knex-based (MikroORM 7) is refused, not left without a token', () => {
    const Seven = class {
      connection = { options: {} };
      replicas = [];
    };
    Object.defineProperty(Seven, 'name', { value: 'PostgreSqlDriver' });
    const options = iamMikroOrmOptions({
      driver: Seven as unknown as new (config: Configuration) => IDatabaseDriver,
      host: HOST,
      user: 'app',
    });
    expect(() => driver(options)).toThrow(/supports MikroORM 6/);
  });
});
