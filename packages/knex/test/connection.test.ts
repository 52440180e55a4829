import { RdsIamError } from '@rds-iam/core';
import { describe, expect, it } from 'vitest';
import { iamConnection } from '../src/index.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'secret' };

describe('iamConnection', () => {
  it('defaults to pg: a password function, TLS, and knex connection options passed through', () => {
    const connection = iamConnection({
      host: HOST,
      user: 'app',
      database: 'app',
      application_name: 'svc',
      credentials,
    })();
    expect(typeof connection.password).toBe('function');
    expect(connection).toMatchObject({
      host: HOST,
      port: 5432,
      user: 'app',
      database: 'app',
      application_name: 'svc',
    });
    expect(connection.ssl).toMatchObject({ rejectUnauthorized: true, servername: HOST });
    expect(connection).not.toHaveProperty('Client');
    expect(connection).not.toHaveProperty('credentials');
  });

  it('mysql2: the cleartext plugin, no password, port 3306', () => {
    const connection = iamConnection({
      client: 'mysql2',
      host: HOST,
      user: 'app',
      database: 'app',
      credentials,
    })();
    expect(connection).toMatchObject({ host: HOST, port: 3306, user: 'app', database: 'app' });
    expect(typeof connection.authPlugins?.mysql_clear_password).toBe('function');
    expect(connection).not.toHaveProperty('password');
    expect(connection).not.toHaveProperty('client');
  });

  it('bad options give an RdsIamError before connecting', () => {
    expect(() =>
      iamConnection({ client: 'oracledb' as 'mysql2', host: HOST, user: 'app' }),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringMatching(/'pg'.*'mysql2'/),
      }),
    );
    expect(() => iamConnection({ host: HOST, user: 'app', ssl: false })).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_REQUIRED' }),
    );
    expect(() => iamConnection({ host: '', user: 'app' })).toThrow(RdsIamError);
  });
});
