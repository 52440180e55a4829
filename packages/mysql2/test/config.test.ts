import { RdsIamError } from '@rds-iam/core';
import { describe, expect, it } from 'vitest';
import { createCallbackPool, createPool, mysql2IamConfig } from '../src/index.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'secret' };

describe('mysql2IamConfig', () => {
  it('installs the cleartext plugin, TLS against the RDS CAs, and passes driver options through', () => {
    const config = mysql2IamConfig({
      host: HOST,
      user: 'app',
      database: 'app',
      connectionLimit: 3,
      credentials,
    });
    expect(config).toMatchObject({
      host: HOST,
      port: 3306,
      user: 'app',
      database: 'app',
      connectionLimit: 3,
    });
    expect(typeof config.authPlugins.mysql_clear_password).toBe('function');
    expect(config.ssl).toMatchObject({ rejectUnauthorized: true });
    expect(config).not.toHaveProperty('password');
    expect(config).not.toHaveProperty('enableCleartextPlugin');
    expect(config).not.toHaveProperty('credentials');
  });

  it('the plugin refuses to send the token over a connection that is not encrypted', async () => {
    const config = mysql2IamConfig({ host: HOST, user: 'app', credentials });
    const send = config.authPlugins.mysql_clear_password({
      connection: { stream: { encrypted: false } } as never,
      command: 'auth',
    });
    await expect(Promise.resolve(send(Buffer.alloc(0)))).rejects.toMatchObject({
      code: 'ERR_TLS_REQUIRED',
    });
  });

  it('merges a uri and refuses a password in it or in the options', () => {
    expect(mysql2IamConfig({ uri: `mysql://app@${HOST}:3307/shop`, credentials })).toMatchObject({
      host: HOST,
      port: 3307,
      user: 'app',
      database: 'shop',
    });
    expect(() => mysql2IamConfig({ uri: `mysql://app:pw@${HOST}/shop` })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFLICTING_OPTIONS' }),
    );
    expect(() => mysql2IamConfig({ host: HOST, user: 'app', password: 'pw' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFLICTING_OPTIONS' }),
    );
  });

  it('refuses TLS off towards RDS and bad options, before connecting', () => {
    expect(() => mysql2IamConfig({ host: HOST, user: 'app', ssl: false })).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_REQUIRED' }),
    );
    expect(() => mysql2IamConfig({ user: 'app' })).toThrow(RdsIamError);
    expect(() => mysql2IamConfig({ host: HOST, user: 'app', port: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_PORT' }),
    );
  });

  it('createPool returns a promise pool', async () => {
    const pool = createPool({ host: HOST, user: 'app', credentials });
    expect(typeof pool.query).toBe('function');
    await pool.end();
  });

  it('createCallbackPool returns a callback pool whose end(cb) calls back; bad options throw first', async () => {
    const pool = createCallbackPool({ host: HOST, user: 'app', credentials });
    // The callback API: promise() wraps it, and end takes a callback rather than returning a promise.
    expect(typeof pool.promise).toBe('function');
    const ended = await new Promise<unknown>((resolve) => {
      const returned = pool.end((err) => resolve(err));
      expect(returned).toBeUndefined();
    });
    expect(ended ?? null).toBeNull(); // no error (mysql2 passes undefined or null)
    expect(() => createCallbackPool({ host: HOST, user: 'app', password: 'x' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFLICTING_OPTIONS' }),
    );
  });
});
