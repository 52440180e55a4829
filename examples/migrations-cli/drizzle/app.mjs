// The app, with the @rds-iam/pg pool (a fresh token for each new connection) on the same database
// module: run after `drizzle-kit migrate`.
import { createPool } from '@rds-iam/pg';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { database } from '../database.mjs';
import { notes } from './schema.mjs';

const { iam, ...settings } = database;
const pool = createPool({ ...settings, ...iam, max: 10 });
const db = drizzle({ client: pool });
try {
  await db.insert(notes).values({ body: 'written by the app' });
  const { rows } = await db.execute(sql`SELECT current_user AS "user"`);
  const all = await db.select().from(notes);
  console.log(
    `logged in as ${rows[0].user} with an IAM token; notes: ${all.map((n) => n.body).join(' | ')}`,
  );
} finally {
  await pool.end();
}
