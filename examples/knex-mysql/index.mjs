// knex with MySQL or MariaDB (mysql2), logging in with IAM auth tokens: the @rds-iam/knex README's MySQL snippet.
// Runs the migrations in ./migrations, a few queries and a transaction, then rolls the migrations
// back so that it can run again.
//
// Locally, against the rds-iam emulator in front of the local MySQL / MariaDB:
//   pnpm --filter @rds-iam/example-knex-mysql start
// Against real RDS / Aurora / RDS Proxy (credentials from the AWS SDK's default chain):
//   RDS_HOST=mydb.cluster-abc123xyz.eu-west-1.rds.amazonaws.com RDS_USER=app RDS_DATABASE=app \
//     pnpm --filter @rds-iam/example-knex-mysql start
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exampleTarget } from '@rds-iam/example-local-endpoint';

process.chdir(dirname(fileURLToPath(import.meta.url))); // knex reads ./migrations from here

// Where to log in: the RDS_* variables, or the emulator. `iam` carries what only the emulator needs
// (the endpoint name it signs for, its region, its demo credentials and its CA); on RDS it is empty.
const { host, port, user, database, iam, close } = await exampleTarget('mysql');

// --- snippet: knex-mysql ---
import { iamConnection } from '@rds-iam/knex';
import knex from 'knex';

const db = knex({
  client: 'mysql2',
  connection: iamConnection({
    client: 'mysql2', // as knex's: the token goes in through mysql2's cleartext plugin, over TLS
    host, // the RDS, Aurora or RDS Proxy endpoint; the region comes from its name
    port,
    user, // a user IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'
    database,
    ...iam, // empty on RDS; for the local emulator: signingHost, region, credentials, ssl: { ca }
  }),
  pool: { min: 0, max: 10 }, // knex's pool, as usual: every new connection gets a fresh token
  migrations: { directory: './migrations', loadExtensions: ['.mjs'] },
});
// --- end snippet ---

try {
  const [, applied] = await db.migrate.latest();
  console.log(`migrations applied: ${applied.join(', ') || 'none'}`);

  await db('knex_notes').insert([{ body: 'first' }, { body: 'second' }]);
  await db.transaction(async (trx) => {
    await trx('knex_notes').insert({ body: 'third, in a transaction' });
  });
  const notes = await db('knex_notes').select('body').orderBy('id');
  const [rows] = await db.raw("SELECT SUBSTRING_INDEX(USER(), '@', 1) AS user");
  console.log(`logged in as ${rows[0].user} with an IAM token`);
  console.log(`notes: ${notes.map((n) => n.body).join(' | ')}`);

  await db.migrate.rollback(undefined, true);
  console.log('migrations rolled back');
} finally {
  await db.destroy();
  await close();
}
