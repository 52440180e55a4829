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

  it('a driver whose connections MikroORM opens neither through knex nor Kysely is refused', () => {
    const Unknown = class {
      connection = { options: {} };
      replicas = [];
    };
    Object.defineProperty(Unknown, 'name', { value: 'PostgreSqlDriver' });
    const options = iamMikroOrmOptions({
      driver: Unknown as unknown as new (config: Configuration) => IDatabaseDriver,
      host: HOST,
      user: 'app',
    });
    expect(() => driver(options)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringMatching(/6 \(knex\) and 7 \(Kysely/),
      }),
    );
  });

  it('refuses driverOptions that are a client of their own or set the login, before connecting', () => {
    const base = { driver: fakeDriver('PostgreSqlDriver'), host: HOST, user: 'app' };
    const dialect = new (class PostgresDialect {
      createDriver() {
        return {};
      }
    })();
    for (const [driverOptions, message] of [
      [dialect, /a client of its own/],
      [() => ({}), /a client of its own/],
      [{ context: { client: {} } }, /a client of its own/],
      [{ password: 'x' }, /sets `password`/],
      [{ ssl: { rejectUnauthorized: false } }, /sets `ssl`/],
    ] as const) {
      expect(() => iamMikroOrmOptions({ ...base, driverOptions } as never)).toThrow(
        expect.objectContaining({
          code: 'ERR_CONFLICTING_OPTIONS',
          message: expect.stringMatching(message),
        }),
      );
      expect(() =>
        iamMikroOrmOptions({ ...base, replicas: [{ host: REPLICA, driverOptions }] } as never),
      ).toThrow(
        expect.objectContaining({ message: expect.stringMatching(/a replica’s `driverOptions`/) }),
      );
    }
    // Pool settings are MikroORM's to pass on.
    expect(() => iamMikroOrmOptions({ ...base, driverOptions: { max: 3 } } as never)).not.toThrow();
  });
});

/**
 * What the integration touches of MikroORM 7's SQL connection: it builds a Kysely dialect from its
 * pool settings with `overrides` (driverOptions) merged over them; the dialect's driver acquires.
 */
class FakeKyselyConnection {
  opened = 0;
  failures: unknown[] = [];
  settings: Record<string, unknown> | undefined;
  constructor(
    readonly options: { host?: string; port?: number; user?: string },
    readonly async: boolean,
  ) {}
  createKyselyDialect(overrides: Record<string, unknown>) {
    // MikroORM's own pool settings (type parsers, date strings) first, then `overrides`.
    this.settings = { types: 'mikro-orm parsers', connectionTimeoutMillis: 1, ...overrides };
    const acquireConnection = async () => {
      this.opened += 1;
      const failure = this.failures.shift();
      if (failure) throw failure;
      return this.settings;
    };
    const dialect = { createDriver: () => ({ acquireConnection }) };
    return this.async ? Promise.resolve(dialect) : dialect;
  }
}

/** A MikroORM 7 driver class named `name`, extending `parent` (MikroORM 7's MariaDbDriver extends MySqlDriver). */
function kyselyDriver(name: string, parent?: new (config: Configuration) => object) {
  const Base = parent ?? class {};
  const Driver = class extends (Base as new (config: Configuration) => object) {
    connection: FakeKyselyConnection;
    replicas: FakeKyselyConnection[];
    constructor(config: Configuration) {
      super(config);
      const c = config as unknown as { host: string; port: number; user: string; replicas?: [] };
      // mysql2's dialect is built asynchronously, pg's at once.
      const async = name !== 'PostgreSqlDriver';
      this.connection = new FakeKyselyConnection(c, async);
      this.replicas = (c.replicas ?? []).map(
        (r: object) => new FakeKyselyConnection({ port: c.port, user: c.user, ...r }, async),
      );
    }
  };
  Object.defineProperty(Driver, 'name', { value: name });
  return Driver as unknown as new (
    config: Configuration,
  ) => IDatabaseDriver;
}

describe('iamMikroOrmOptions with MikroORM 7 (Kysely over pg and mysql2)', () => {
  function kysely(options: object) {
    const { driver: Driver, ...config } = options as { driver: new (c: object) => unknown };
    return new Driver(config) as {
      connection: FakeKyselyConnection;
      replicas: FakeKyselyConnection[];
    };
  }

  it('PostgreSQL: the pool gets the password hook and TLS over driverOptions, the connect bound under them', async () => {
    const { connection } = kysely(
      iamMikroOrmOptions({ driver: kyselyDriver('PostgreSqlDriver'), host: HOST, user: 'app' }),
    );
    const dialect = connection.createKyselyDialect({ max: 3, connectionTimeoutMillis: 5000 });
    expect(dialect).not.toBeInstanceOf(Promise);
    expect(connection.settings).toMatchObject({
      types: 'mikro-orm parsers',
      max: 3,
      connectionTimeoutMillis: 5000,
      ssl: { rejectUnauthorized: true, servername: HOST },
    });
    expect(typeof connection.settings?.password).toBe('function');
    connection.createKyselyDialect({});
    expect(connection.settings?.connectionTimeoutMillis).toBe(30_000);
  });

  it('MySQL, and MariaDB as MikroORM 7 has it (a MySqlDriver): the cleartext plugin, no password', async () => {
    const MySqlDriver = kyselyDriver('MySqlDriver');
    for (const Driver of [MySqlDriver, kyselyDriver('MariaDbDriver', MySqlDriver)]) {
      const { connection } = kysely(
        iamMikroOrmOptions({ driver: Driver, host: HOST, user: 'app' }),
      );
      await connection.createKyselyDialect({});
      const plugins = connection.settings?.authPlugins as Record<string, unknown>;
      expect(typeof plugins.mysql_clear_password).toBe('function');
      expect(connection.settings).not.toHaveProperty('password');
      expect(connection.settings).not.toHaveProperty('stream');
    }
  });

  it('each replica’s pool logs in to its own host', () => {
    const { connection, replicas } = kysely(
      iamMikroOrmOptions({
        driver: kyselyDriver('PostgreSqlDriver'),
        host: HOST,
        user: 'app',
        replicas: [{ host: REPLICA }],
      }),
    );
    connection.createKyselyDialect({});
    replicas[0]?.createKyselyDialect({});
    expect(connection.settings?.ssl).toMatchObject({ servername: HOST });
    expect(replicas[0]?.settings?.ssl).toMatchObject({ servername: REPLICA });
  });

  it('the dialect acquires through the connector: one retry after a rejection, never more', async () => {
    for (const name of ['PostgreSqlDriver', 'MySqlDriver']) {
      const { connection } = kysely(
        iamMikroOrmOptions({ driver: kyselyDriver(name), host: HOST, user: 'app' }),
      );
      const driver = (await connection.createKyselyDialect({})).createDriver();
      const rejected =
        name === 'MySqlDriver'
          ? Object.assign(new Error('Access denied'), { errno: 1045 })
          : Object.assign(new Error('PAM authentication failed for user "app"'), { code: '28P01' });
      connection.failures.push(rejected);
      await expect(driver.acquireConnection()).resolves.toMatchObject({
        types: 'mikro-orm parsers',
      });
      expect(connection.opened).toBe(2);
      connection.failures.push(rejected, rejected);
      await expect(driver.acquireConnection()).rejects.toMatchObject({ code: 'ERR_AUTH_REJECTED' });
      expect(connection.opened).toBe(4);
    }
  });
});
