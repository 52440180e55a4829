// MikroORM 7 (Node.js 22.17 or newer) with PostgreSQL, logging in with IAM auth tokens: the
// README's MikroORM quick start. An entity (EntitySchema, so no decorators), the schema created by
// MikroORM's schema generator (the migration here), queries and a transaction; the schema is
// dropped at the end so that it can run again.
//
// Locally, against the rds-iam emulator in front of the local database:
//   pnpm --filter @rds-iam/example-mikro-orm-7-postgres start
// Against real RDS / Aurora / RDS Proxy (credentials from the AWS SDK's default chain):
//   RDS_HOST=mydb.cluster-abc123xyz.eu-west-1.rds.amazonaws.com RDS_USER=app RDS_DATABASE=app \
//     pnpm --filter @rds-iam/example-mikro-orm-7-postgres start
import { EntitySchema } from '@mikro-orm/core';
import { exampleTarget } from '@rds-iam/example-local-endpoint';

const Note = new EntitySchema({
  name: 'Note',
  tableName: 'mikro_orm_notes',
  properties: {
    id: { type: 'number', primary: true, autoincrement: true },
    body: { type: 'string', length: 200 },
  },
});

// Where to log in: the RDS_* variables, or the emulator. `iam` carries what only the emulator needs
// (the endpoint name it signs for, its region, its demo credentials and its CA); on RDS it is empty.
const { host, port, user, database, iam, close } = await exampleTarget('postgres');

// --- snippet: mikro-orm-7-postgres ---
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { iamMikroOrmOptions } from '@rds-iam/mikro-orm';

const orm = await MikroORM.init(
  iamMikroOrmOptions({
    driver: PostgreSqlDriver,
    host, // the RDS, Aurora or RDS Proxy endpoint; the region comes from its name
    port,
    user, // a database user with IAM authentication enabled: GRANT rds_iam TO app
    dbName: database,
    ...iam, // empty on RDS; for the local emulator: signingHost, region, credentials, ssl: { ca }
    entities: [Note],
    pool: { min: 0, max: 10 },
  }),
); // every new pooled connection logs in with a fresh token
// --- end snippet ---

try {
  await orm.schema.create();
  console.log('migrations applied: create-schema');

  const em = orm.em.fork();
  await em.insertMany(Note, [{ body: 'first' }, { body: 'second' }]);
  await em.transactional(async (tx) => {
    await tx.insert(Note, { body: 'third, in a transaction' });
  });
  const [who] = await em.getConnection().execute('SELECT current_user AS "user"');
  console.log(`logged in as ${who.user} with an IAM token`);
  const all = await em.find(Note, {}, { orderBy: { id: 'ASC' } });
  console.log(`notes: ${all.map((n) => n.body).join(' | ')}`);

  await orm.schema.drop();
  console.log('migrations rolled back');
} finally {
  await orm.close(true);
  await close();
}
