// The app, on the data source the TypeORM CLI reads: run after `typeorm migration:run`.
import dataSource, { Note } from './data-source.mjs';

await dataSource.initialize();
try {
  await dataSource.getRepository(Note).save({ body: 'written by the app' });
  const [who] = await dataSource.query('SELECT current_user AS "user"');
  const notes = await dataSource.getRepository(Note).find();
  console.log(
    `logged in as ${who.user} with an IAM token; notes: ${notes.map((n) => n.body).join(' | ')}`,
  );
} finally {
  await dataSource.destroy();
}
