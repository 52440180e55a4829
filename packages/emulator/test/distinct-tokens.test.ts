import mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_CREDENTIALS, type Emulator, startEmulator } from '../src/index.js';
import {
  createRole,
  dropRole,
  PG_UPSTREAM,
  presignAuthToken,
  sdkToken,
  signedAtOf,
} from './helpers.js';
import { createMysqlUser, dropMysqlUser, mysqlAvailable } from './mysql-context.js';

const mysqlUp = await mysqlAvailable();

/** A token for `user` at `emu`, signed `secondsLater` after `base` (another signature). */
function tokenAt(emu: Emulator, user: string, base: number, secondsLater: number): string {
  return presignAuthToken({
    ...emu.endpoint,
    user,
    region: emu.region,
    accessKeyId: DEMO_CREDENTIALS.accessKeyId,
    secretAccessKey: DEMO_CREDENTIALS.secretAccessKey,
    signedAt: base + secondsLater * 1000,
  });
}

describe('counters().distinctTokens (PostgreSQL)', () => {
  let emu: Emulator;
  let role: string;
  beforeAll(async () => {
    emu = await startEmulator({
      engine: 'postgres',
      upstream: `postgres://${PG_UPSTREAM.host}:${PG_UPSTREAM.port}`,
    });
    role = await createRole('emudistinct');
  });
  afterAll(async () => {
    await emu.stop();
    await dropRole(role);
  });
  beforeEach(() => {
    emu.resetCounters();
  });

  const login = async (password: string): Promise<void> => {
    const c = new pg.Client({
      host: emu.host,
      port: emu.port,
      user: role,
      database: 'test',
      password,
      ssl: { ca: emu.caPem, servername: 'localhost' },
    });
    try {
      await c.connect();
      await c.query('SELECT 1');
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  it('counts a token reused for two logins once, a fresh one twice; rejected logins not at all', async () => {
    const first = await sdkToken({ ...emu.endpoint, user: role, credentials: DEMO_CREDENTIALS });
    await login(first);
    await login(first);
    expect(emu.counters()).toMatchObject({ accepted: 2, rejected: 0, distinctTokens: 1 });

    const fresh = tokenAt(emu, role, signedAtOf(first), 1);
    expect(fresh).not.toBe(first);
    await login(fresh);
    await login(first);
    expect(emu.counters()).toMatchObject({ accepted: 4, rejected: 0, distinctTokens: 2 });

    emu.rejectNextLogins(1);
    await expect(login(tokenAt(emu, role, signedAtOf(first), 2))).rejects.toMatchObject({
      code: '28P01',
    });
    const altered = `${first.slice(0, -1)}${first.endsWith('0') ? '1' : '0'}`;
    await expect(login(altered)).rejects.toMatchObject({ code: '28P01' });
    expect(emu.counters()).toMatchObject({ accepted: 4, rejected: 2, distinctTokens: 2 });
  });

  it('resetCounters() zeroes it and forgets the tokens seen', async () => {
    const token = await sdkToken({ ...emu.endpoint, user: role, credentials: DEMO_CREDENTIALS });
    await login(token);
    await login(tokenAt(emu, role, signedAtOf(token), 1));
    expect(emu.counters().distinctTokens).toBe(2);
    emu.resetCounters();
    expect(emu.counters()).toMatchObject({ accepted: 0, distinctTokens: 0 });
    await login(token);
    expect(emu.counters()).toMatchObject({ accepted: 1, distinctTokens: 1 });
  });

  it('concurrent logins sharing one token count once', async () => {
    const token = await sdkToken({ ...emu.endpoint, user: role, credentials: DEMO_CREDENTIALS });
    await Promise.all(Array.from({ length: 10 }, () => login(token)));
    expect(emu.counters()).toMatchObject({ accepted: 10, distinctTokens: 1 });
  });
});

describe.skipIf(!mysqlUp)('counters().distinctTokens (MySQL), the same for any client', () => {
  let emu: Emulator;
  let user: string;
  beforeAll(async () => {
    emu = await startEmulator({ engine: 'mysql', upstream: 'mysql://127.0.0.1:3306' });
    user = await createMysqlUser('u_emudistinct');
  });
  afterAll(async () => {
    await emu?.stop();
    if (user) await dropMysqlUser(user);
  });

  const viaMysql2 = async (token: string): Promise<void> => {
    const c = await mysql.createConnection({
      host: emu.host,
      port: emu.port,
      user,
      database: 'test',
      ssl: { ca: emu.caPem },
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
    });
    await c.end();
  };
  const viaMariadb = async (token: string): Promise<void> => {
    const c = await mariadb.createConnection({
      host: emu.host,
      port: emu.port,
      user,
      password: token,
      ssl: { ca: emu.caPem },
    });
    await c.end();
  };

  it('mysql2 and the mariadb connector with one token count 1, a fresh token 2, reset 0', async () => {
    emu.resetCounters();
    const token = await sdkToken({ ...emu.endpoint, user, credentials: DEMO_CREDENTIALS });
    await viaMysql2(token);
    await viaMariadb(token);
    expect(emu.counters()).toMatchObject({ accepted: 2, distinctTokens: 1 });
    await viaMariadb(tokenAt(emu, user, signedAtOf(token), 1));
    expect(emu.counters()).toMatchObject({ accepted: 3, distinctTokens: 2 });
    emu.resetCounters();
    expect(emu.counters().distinctTokens).toBe(0);
  });
});
