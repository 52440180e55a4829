// The app, on the knexfile the knex CLI reads: run after `knex migrate:latest`.
import knex from 'knex';
import config from './knexfile.mjs';

const db = knex(config);
try {
  await db('cli_knex_notes').insert([{ body: 'written by the app' }]);
  const { rows } = await db.raw('SELECT current_user AS "user"');
  const notes = await db('cli_knex_notes').select('body');
  console.log(
    `logged in as ${rows[0].user} with an IAM token; notes: ${notes.map((n) => n.body).join(' | ')}`,
  );
} finally {
  await db.destroy();
}
