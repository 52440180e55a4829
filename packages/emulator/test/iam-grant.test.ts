import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_CREDENTIALS,
  type Emulator,
  type EmulatorLogin,
  startEmulator,
} from '../src/index.js';
import { createRole, dropRole, PG_UPSTREAM, sdkToken } from './helpers.js';
import { createMysqlUser, dropMysqlUser, MYSQL_UPSTREAM } from './mysql-context.js';

const UPSTREAM = `postgres://${PG_UPSTREAM.host}:${PG_UPSTREAM.port}`;

describe('strict as RDS by default: a PostgreSQL user needs rds_iam', () => {
  let granted: string;
  let plain: string;
  let emu: Emulator;
  const logins: EmulatorLogin[] = [];

  beforeAll(async () => {
    granted = await createRole('emugrant');
    plain = await createRole('emunogrant', { iam: false });
    emu = await startEmulator({
      engine: 'postgres',
      upstream: UPSTREAM,
      onLogin: (l) => logins.push(l),
    });
  });
  afterAll(async () => {
    await emu?.stop();
    await dropRole(granted);
    await dropRole(plain);
  });

  async function login(user: string): Promise<unknown> {
    const password = await sdkToken({ ...emu.endpoint, user, credentials: DEMO_CREDENTIALS });
    const c = new pg.Client({
      host: emu.host,
      port: emu.port,
      user,
      database: 'test',
      password,
      ssl: { ca: emu.caPem },
    });
    try {
      await c.connect();
      return (await c.query('select current_user as u')).rows[0];
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  it('lets in a user with GRANT rds_iam, on its own session (the check leaves nothing behind)', async () => {
    emu.resetCounters();
    await expect(login(granted)).resolves.toEqual({ u: granted });
    expect(emu.counters()).toMatchObject({ accepted: 1, rejected: 0 });
  });

  it('refuses a valid token for a user without rds_iam as RDS does, with not-iam-user in the counters', async () => {
    emu.resetCounters();
    logins.length = 0;
    const err = (await login(plain).catch((e: unknown) => e)) as {
      code?: string;
      message?: string;
    };
    expect(err.code).toBe('28P01');
    expect(err.message).toBe(`password authentication failed for user "${plain}"`);
    expect(emu.counters()).toMatchObject({
      accepted: 0,
      rejected: 1,
      rejectedByReason: { 'not-iam-user': 1 },
    });
    expect(logins).toEqual([
      {
        accepted: false,
        user: plain,
        reason: 'not-iam-user',
        detail: `"${plain}" is not a member of rds_iam upstream, so RDS would ask for its password (GRANT rds_iam TO "${plain}")`,
      },
    ]);
  });

  it('a user missing upstream is still told so (08004); the login counts as refused upstream', async () => {
    emu.resetCounters();
    const err = (await login('emu_no_such_role').catch((e: unknown) => e)) as { code?: string };
    expect(err.code).toBe('08004');
    expect(emu.counters()).toMatchObject({
      accepted: 0,
      rejected: 1,
      rejectedByReason: { 'upstream-refused': 1 },
    });
  });

  it('allowNonIamUsers relaxes exactly that: the same user without the grant logs in', async () => {
    const open = await startEmulator({
      engine: 'postgres',
      upstream: UPSTREAM,
      allowNonIamUsers: true,
    });
    try {
      const password = await sdkToken({
        ...open.endpoint,
        user: plain,
        credentials: DEMO_CREDENTIALS,
      });
      const c = new pg.Client({
        host: open.host,
        port: open.port,
        user: plain,
        database: 'test',
        password,
        ssl: { ca: open.caPem },
      });
      await c.connect();
      await c.end();
      expect(open.counters().accepted).toBe(1);
    } finally {
      await open.stop();
    }
  });
});

describe('strict as RDS by default on MySQL / MariaDB: a user with a password of its own is refused', () => {
  let iamLike: string;
  let withPassword: string;
  let emu: Emulator;
  const logins: EmulatorLogin[] = [];

  beforeAll(async () => {
    iamLike = await createMysqlUser('u_emuiam');
    withPassword = await createMysqlUser('u_emupwd', 'its-own-password');
    emu = await startEmulator({
      engine: 'mysql',
      upstream: `mysql://${MYSQL_UPSTREAM.host}:${MYSQL_UPSTREAM.port}`,
      onLogin: (l) => logins.push(l),
    });
  });
  afterAll(async () => {
    await emu?.stop();
    await dropMysqlUser(iamLike);
    await dropMysqlUser(withPassword);
  });

  async function login(user: string): Promise<unknown> {
    const password = await sdkToken({ ...emu.endpoint, user, credentials: DEMO_CREDENTIALS });
    const c = await mysql.createConnection({
      host: emu.host,
      port: emu.port,
      user,
      database: 'test',
      ssl: { ca: emu.caPem },
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${password}\0`) },
    });
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
      return rows[0]?.u;
    } finally {
      await c.end();
    }
  }

  it('lets in a user without a password (what AWSAuthenticationPlugin users are locally)', async () => {
    emu.resetCounters();
    await expect(login(iamLike)).resolves.toBe(`${iamLike}@%`);
    expect(emu.counters()).toMatchObject({ accepted: 1, rejected: 0 });
  });

  it('refuses a user with a password with RDS 1045, not-iam-user in the counters', async () => {
    emu.resetCounters();
    logins.length = 0;
    const err = (await login(withPassword).catch((e: unknown) => e)) as {
      errno?: number;
      sqlMessage?: string;
    };
    expect(err.errno).toBe(1045);
    expect(err.sqlMessage).toMatch(
      new RegExp(`^Access denied for user '${withPassword}'@'[^']+' \\(using password: YES\\)$`),
    );
    expect(emu.counters()).toMatchObject({
      accepted: 0,
      rejected: 1,
      rejectedByReason: { 'not-iam-user': 1 },
    });
    expect(logins).toMatchObject([{ accepted: false, reason: 'not-iam-user', user: withPassword }]);
  });
});
