import { describe, expect, it } from 'vitest';
import { iamDataSourceOptions } from '../src/index.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'secret' };

describe('iamDataSourceOptions', () => {
  it('postgres: password function, pure-JS pg without native, user extra kept', () => {
    const options = iamDataSourceOptions({
      type: 'postgres',
      host: HOST,
      username: 'app',
      database: 'app',
      poolSize: 4,
      extra: { idleTimeoutMillis: 500 },
      synchronize: false,
      credentials,
    });
    expect(options).toMatchObject({
      type: 'postgres',
      host: HOST,
      port: 5432,
      username: 'app',
      database: 'app',
      poolSize: 4,
      synchronize: false,
    });
    expect(typeof options.password).toBe('function');
    expect((options.driver as { native: unknown }).native).toBeNull();
    expect(typeof (options.driver as { Pool: unknown }).Pool).toBe('function');
    expect(options.extra).toMatchObject({ idleTimeoutMillis: 500 });
    expect(typeof (options.extra as { Client: unknown }).Client).toBe('function');
    expect(options.ssl).toMatchObject({ rejectUnauthorized: true });
    expect(options).not.toHaveProperty('credentials');
  });

  it('mysql and mariadb: the cleartext plugin merged into the user’s extra, mysql2 as connector', () => {
    for (const type of ['mysql', 'mariadb'] as const) {
      const options = iamDataSourceOptions({
        type,
        host: HOST,
        username: 'app',
        database: 'app',
        extra: { connectionLimit: 3 },
        credentials,
      });
      expect(options).toMatchObject({
        type,
        port: 3306,
        username: 'app',
      });
      // mysql2's callback module, with a createPool whose pools retry a rejected login once.
      const driver = options.driver as { createPool: unknown; createConnection: unknown };
      expect(typeof driver.createPool).toBe('function');
      expect(typeof driver.createConnection).toBe('function');
      const extra = options.extra as {
        connectionLimit: number;
        authPlugins: Record<string, unknown>;
      };
      expect(extra.connectionLimit).toBe(3);
      expect(typeof extra.authPlugins.mysql_clear_password).toBe('function');
      expect(options.password).toBeUndefined();
    }
  });

  it('accepts a url without a password and refuses one with it', () => {
    expect(
      iamDataSourceOptions({
        type: 'postgres',
        url: `postgres://app@${HOST}:6543/orders`,
        credentials,
      }),
    ).toMatchObject({ host: HOST, port: 6543, username: 'app', database: 'orders' });
    expect(() =>
      iamDataSourceOptions({ type: 'postgres', url: `postgres://app:pw@${HOST}/orders` }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CONFLICTING_OPTIONS' }));
  });

  it('bad options fail before connecting', () => {
    expect(() =>
      iamDataSourceOptions({
        type: 'postgres',
        host: HOST,
        username: 'app',
        password: 'x',
      } as never),
    ).toThrow(expect.objectContaining({ code: 'ERR_CONFLICTING_OPTIONS' }));
    expect(() => iamDataSourceOptions({ type: 'sqlite', database: ':memory:' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
    expect(() => iamDataSourceOptions({ type: 'mysql', host: HOST, username: '' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_USER' }),
    );
    expect(() =>
      iamDataSourceOptions({ type: 'postgres', host: HOST, username: 'app', ssl: false }),
    ).toThrow(expect.objectContaining({ code: 'ERR_TLS_REQUIRED' }));
  });
});
