import type { SignRequest } from '@rds-iam/core';
import type { Options, Sequelize } from 'sequelize';
import { describe, expect, it, vi } from 'vitest';
import { iamSequelizeOptions } from '../src/index.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const REPLICA = 'mydb-ro.abc123xyz.us-east-1.rds.amazonaws.com';
const NOW = Date.parse('2026-01-01T00:00:00Z');

/** A signer that records what each token was signed for, and a fresh token per call. */
function signer() {
  const requests: SignRequest[] = [];
  const sign = vi.fn((r: SignRequest) => {
    requests.push(r);
    const date = r.signingDate.toISOString().replace(/[-:]|\.\d{3}/g, '');
    return `${r.hostname}:${r.port}/?Action=connect&DBUser=${r.username}&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F${date.slice(0, 8)}%2F${r.region}%2Frds-db%2Faws4_request&X-Amz-Date=${date}&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=${String(requests.length).padStart(64, '0')}`;
  });
  return { sign, requests };
}

/** What Sequelize's `beforeConnect` sees as `this`: the instance and its connection manager. */
function fakeSequelize(connect: (config: object) => Promise<unknown>) {
  return { connectionManager: { connect } } as unknown as Sequelize;
}

function runBeforeConnect(options: Options, sequelize: Sequelize): void {
  const hook = options.hooks?.beforeConnect as (this: Sequelize, c: object) => void;
  hook.call(sequelize, {});
}

describe('iamSequelizeOptions', () => {
  it('postgres: a password function, verified TLS in dialectOptions, the user’s options kept', async () => {
    const { sign, requests } = signer();
    const options = iamSequelizeOptions({
      dialect: 'postgres',
      host: HOST,
      username: 'app',
      database: 'app',
      pool: { max: 7 },
      dialectOptions: { application_name: 'api' },
      sign,
      now: () => NOW,
    });
    expect(options).toMatchObject({
      dialect: 'postgres',
      host: HOST,
      port: 5432,
      username: 'app',
      database: 'app',
      pool: { max: 7 },
      dialectOptions: {
        application_name: 'api',
        ssl: { rejectUnauthorized: true, servername: HOST },
      },
    });
    expect(options).not.toHaveProperty('sign');
    const password = options.password as unknown as () => Promise<string>;
    expect(typeof password).toBe('function');
    expect(await password.call(undefined)).toContain(`${HOST}:5432/?Action=connect&DBUser=app`);
    expect(requests.map((r) => r.region)).toEqual(['us-east-1']);
  });

  it('mysql: the cleartext plugin next to the user’s plugins; mariadb: the stream hook', () => {
    const mine = () => () => Buffer.from('x');
    const mysql = iamSequelizeOptions({
      dialect: 'mysql',
      host: HOST,
      username: 'app',
      dialectOptions: { authPlugins: { sha256_password: mine } },
    });
    expect(mysql.port).toBe(3306);
    expect(mysql.password).toBeUndefined();
    const plugins = (mysql.dialectOptions as { authPlugins: Record<string, unknown> }).authPlugins;
    expect(plugins.sha256_password).toBe(mine);
    expect(typeof plugins.mysql_clear_password).toBe('function');

    const mariadb = iamSequelizeOptions({ dialect: 'mariadb', host: HOST, username: 'app' });
    expect(typeof (mariadb.dialectOptions as { stream: unknown }).stream).toBe('function');
    expect(mariadb.dialectOptions).toMatchObject({ ssl: { rejectUnauthorized: true } });
  });

  it('replication: each endpoint signs for its own host; the top-level signingHost is the main one’s', async () => {
    const { sign, requests } = signer();
    const options = iamSequelizeOptions({
      dialect: 'postgres',
      host: '127.0.0.1',
      port: 15432,
      signingHost: HOST,
      signingPort: 5432,
      username: 'app',
      region: 'us-east-1',
      sign,
      now: () => NOW,
      replication: { write: {}, read: [{ host: REPLICA, port: 5432 }] },
    });
    const { write, read } = options.replication as unknown as {
      write: { password: () => Promise<string> };
      read: { host: string; password: () => Promise<string> }[];
    };
    await write.password();
    await read[0]?.password();
    expect(read[0]?.host).toBe(REPLICA);
    expect(requests.map((r) => `${r.hostname}:${r.port}`)).toEqual([
      `${HOST}:5432`,
      `${REPLICA}:5432`,
    ]);
  });

  it('beforeConnect routes connect through the connector: one retry after a rejection, the user’s hook still runs', async () => {
    const { sign } = signer();
    const mine = vi.fn();
    const options = iamSequelizeOptions({
      dialect: 'postgres',
      host: HOST,
      username: 'app',
      sign,
      now: () => NOW,
      hooks: { beforeConnect: mine },
    });
    const rejection = Object.assign(new Error('PAM authentication failed for user "app"'), {
      code: '28P01',
    });
    let calls = 0;
    const sequelize = fakeSequelize(async () => {
      calls += 1;
      if (calls === 1) throw Object.assign(new Error('wrapped'), { parent: rejection });
      return 'connection';
    });
    runBeforeConnect(options, sequelize);
    runBeforeConnect(options, sequelize);
    expect(mine).toHaveBeenCalledTimes(2);
    const manager = (sequelize as unknown as { connectionManager: { connect(c: object): unknown } })
      .connectionManager;
    await expect(manager.connect({ host: HOST, port: 5432, username: 'app' })).resolves.toBe(
      'connection',
    );
    expect(calls).toBe(2);

    // Two rejections in a row: an RdsIamError that keeps the server's words, no third try.
    calls = 0;
    const twice = fakeSequelize(async () => {
      calls += 1;
      throw Object.assign(new Error('wrapped'), { parent: rejection });
    });
    runBeforeConnect(options, twice);
    const err = await (
      twice as unknown as { connectionManager: { connect(c: object): Promise<unknown> } }
    ).connectionManager
      .connect({ host: HOST, port: 5432, username: 'app' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_AUTH_REJECTED' });
    expect((err as Error).message).toMatch(/PAM authentication failed/);
    expect(calls).toBe(2);

    // Other errors stay Sequelize's, untouched and not retried.
    const refused = Object.assign(new Error('refused'), { parent: { code: 'ECONNREFUSED' } });
    const down = fakeSequelize(async () => {
      throw refused;
    });
    runBeforeConnect(options, down);
    await expect(
      (
        down as unknown as { connectionManager: { connect(c: object): Promise<unknown> } }
      ).connectionManager.connect({ host: HOST, port: 5432, username: 'app' }),
    ).rejects.toBe(refused);
  });
});
