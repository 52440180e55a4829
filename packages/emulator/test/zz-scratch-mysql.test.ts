import mysql from 'mysql2/promise';
import { test, expect } from 'vitest';
import { createMysqlUser, dropMysqlUser, mysql2Options, startMysqlFrontEnd } from './mysql-context.js';

test('scratch', async () => {
  const fe = await startMysqlFrontEnd();
  const user = await createMysqlUser();
  try {
    const token = await fe.token(user);
    const c = await mysql.createConnection(mysql2Options(fe, user, token));
    const [rows] = await c.query('SELECT CURRENT_USER() AS u, CONNECTION_ID() AS id, VERSION() AS v');
    console.log(rows, c.threadId, fe.logins);
    await c.end();
  } finally {
    await dropMysqlUser(user);
    await fe.close();
  }
});
