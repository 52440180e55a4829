// TypeORM with MySQL or MariaDB, logging in with IAM auth tokens: the @rds-iam/typeorm README's MySQL
// snippet. An entity (EntitySchema, so no decorators), a migration class, repository queries and a
// transaction; the migration is undone at the end so that it can run again.
//
// Locally, against the rds-iam emulator in front of the local MySQL / MariaDB:
//   pnpm --filter @rds-iam/example-typeorm-mysql start
// Against real RDS / Aurora / RDS Proxy (credentials from the AWS SDK's default chain):
//   RDS_HOST=mydb.cluster-abc123xyz.eu-west-1.rds.amazonaws.com RDS_USER=app RDS_DATABASE=app \
//     pnpm --filter @rds-iam/example-typeorm-mysql start
import { exampleTarget } from '@rds-iam/example-local-endpoint';
import { EntitySchema } from 'typeorm';
import { CreateNotes1767225600000 } from './migrations/1767225600000-CreateNotes.mjs';

const Note = new EntitySchema({
  name: 'Note',
  tableName: 'typeorm_notes',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    body: { type: 'varchar', length: 200 },
  },
});

// Where to log in: the RDS_* variables, or the emulator. `iam` carries what only the emulator needs
// (the endpoint name it signs for, its region, its demo credentials and its CA); on RDS it is empty.
const { host, port, user, database, iam, close } = await exampleTarget('mysql');

// --- snippet: typeorm-mysql ---
import { iamDataSourceOptions } from '@rds-iam/typeorm';
import { DataSource } from 'typeorm';

const dataSource = new DataSource(
  iamDataSourceOptions({
    type: 'mysql', // or 'mariadb'; the token goes in through mysql2's cleartext plugin, over TLS
    host, // the RDS, Aurora or RDS Proxy endpoint; the region comes from its name
    port,
    username: user, // a user IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'
    database,
    ...iam, // empty on RDS; for the local emulator: signingHost, region, credentials, ssl: { ca }
    entities: [Note],
    migrations: [CreateNotes1767225600000],
    migrationsTableName: 'typeorm_migrations',
  }),
);
await dataSource.initialize(); // every new pooled connection logs in with a fresh token
// --- end snippet ---

try {
  const ran = await dataSource.runMigrations();
  console.log(`migrations applied: ${ran.map((m) => m.name).join(', ') || 'none'}`);

  const notes = dataSource.getRepository(Note);
  await notes.save([{ body: 'first' }, { body: 'second' }]);
  await dataSource.transaction(async (manager) => {
    await manager.getRepository(Note).save({ body: 'third, in a transaction' });
  });
  const [who] = await dataSource.query("SELECT SUBSTRING_INDEX(USER(), '@', 1) AS user");
  console.log(`logged in as ${who.user} with an IAM token`);
  const all = await notes.find({ order: { id: 'ASC' } });
  console.log(`notes: ${all.map((n) => n.body).join(' | ')}`);

  await dataSource.undoLastMigration();
  console.log('migrations rolled back');
} finally {
  await dataSource.destroy();
  await close();
}
