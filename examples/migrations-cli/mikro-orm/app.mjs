// The app, on the config the MikroORM CLI reads: run after `mikro-orm migration:up`.
import { MikroORM } from '@mikro-orm/core';
import options, { Note } from './mikro-orm.config.mjs';

const orm = await MikroORM.init(options);
try {
  const em = orm.em.fork();
  em.create(Note, { body: 'written by the app' });
  await em.flush();
  const [who] = await em.getConnection().execute('SELECT current_user AS "user"');
  const notes = await em.find(Note, {});
  console.log(
    `logged in as ${who.user} with an IAM token; notes: ${notes.map((n) => n.body).join(' | ')}`,
  );
} finally {
  await orm.close();
}
