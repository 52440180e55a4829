import { RdsIamError } from '@rds-iam/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createPool, parseConnectionString, pgIamConfig, pureJsClient } from '../src/index.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'secret' };

describe('pgIamConfig', () => {
  it('gives pg a password function, verify-full TLS and the pure-JS client; driver options pass through', () => {
    const config = pgIamConfig({
      host: HOST,
      user: 'app',
      database: 'app',
      max: 7,
      idleTimeoutMillis: 1234,
      credentials,
    });
    expect(typeof config.password).toBe('function');
    expect(config).toMatchObject({
      host: HOST,
      port: 5432,
      user: 'app',
      database: 'app',
      max: 7,
      idleTimeoutMillis: 1234,
    });
    expect(config.ssl).toMatchObject({ rejectUnauthorized: true, servername: HOST });
    expect(config.Client).toBe(pureJsClient());
    expect(config).not.toHaveProperty('credentials');
    expect(config).not.toHaveProperty('region');
  });

  it('merges a connection string under explicit options and keeps the password hook', () => {
    const config = pgIamConfig({
      connectionString: `postgres://app@${HOST}:6543/orders?sslmode=verify-full&application_name=svc`,
      database: 'override',
      credentials,
    });
    expect(config).toMatchObject({
      host: HOST,
      port: 6543,
      user: 'app',
      database: 'override',
      application_name: 'svc',
    });
    expect(typeof config.password).toBe('function');
    expect(config).not.toHaveProperty('connectionString');
  });

  it('refuses a password, in the options or in the URL', () => {
    expect(() => pgIamConfig({ host: HOST, user: 'app', password: 'x' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFLICTING_OPTIONS' }),
    );
    expect(() => pgIamConfig({ connectionString: `postgres://app:secret@${HOST}/db` })).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFLICTING_OPTIONS',
        message: expect.stringMatching(/Remove the password/),
      }),
    );
  });

  it('refuses TLS off towards RDS, allows it towards loopback', () => {
    expect(() => pgIamConfig({ host: HOST, user: 'app', ssl: false })).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_REQUIRED' }),
    );
    expect(() =>
      pgIamConfig({ connectionString: `postgres://app@${HOST}/db?sslmode=disable` }),
    ).toThrow(expect.objectContaining({ code: 'ERR_TLS_REQUIRED' }));
    expect(
      pgIamConfig({ host: '127.0.0.1', port: 5432, user: 'app', region: 'us-east-1', ssl: false })
        .ssl,
    ).toBe(false);
  });

  it('bad options fail before any connection', () => {
    for (const [options, code] of [
      [{ user: 'app' }, 'ERR_INVALID_HOST'],
      [{ host: HOST }, 'ERR_INVALID_USER'],
      [{ host: HOST, user: 'app', port: 70000 }, 'ERR_INVALID_PORT'],
      [{ connectionString: 'mysql://app@h/db' }, 'ERR_INVALID_OPTION'],
      [{ connectionString: `postgres://app@${HOST}/db?sslrootcert=x` }, 'ERR_INVALID_OPTION'],
    ] as const) {
      expect(() => pgIamConfig(options)).toThrow(RdsIamError);
      try {
        pgIamConfig(options);
      } catch (err) {
        expect((err as RdsIamError).code).toBe(code);
      }
    }
  });
});

describe('parseConnectionString', () => {
  it('decodes user, database and an IPv6 host', () => {
    expect(parseConnectionString('postgresql://app%2Bro@[::1]:5433/my%20db')).toEqual({
      host: '::1',
      port: 5433,
      user: 'app+ro',
      database: 'my db',
    });
  });
});

describe('createPool', () => {
  it('is a pg.Pool with an error listener, using the pure-JS client', async () => {
    const pool = createPool({ host: HOST, user: 'app', credentials });
    expect(pool).toBeInstanceOf(pg.Pool);
    expect(pool.listenerCount('error')).toBe(1);
    expect((pool as unknown as { Client: unknown }).Client).toBe(pureJsClient());
    await pool.end();
  });
});
