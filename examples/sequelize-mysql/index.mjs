// Sequelize with MySQL or MariaDB, logging in with IAM auth tokens: the README's Sequelize quick start. A
// model, a migration (create and drop a table through the query interface, as a Sequelize migration
// does), queries and a transaction; the migration is undone at the end so that it can run again.
//
// Locally, against the rds-iam emulator in front of the local database:
//   pnpm --filter @rds-iam/example-sequelize-mysql start
// Against real RDS / Aurora / RDS Proxy (credentials from the AWS SDK's default chain):
//   RDS_HOST=mydb.cluster-abc123xyz.eu-west-1.rds.amazonaws.com RDS_USER=app RDS_DATABASE=app \
//     pnpm --filter @rds-iam/example-sequelize-mysql start
import { exampleTarget } from '@rds-iam/example-local-endpoint';
import { DataTypes, QueryTypes } from 'sequelize';

/** A migration as Sequelize's migration tools run them: `up` and `down` over the query interface. */
const createNotes = {
  name: 'create-notes',
  up: (qi) =>
    qi.createTable('sequelize_notes', {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      body: { type: DataTypes.STRING(200), allowNull: false },
    }),
  down: (qi) => qi.dropTable('sequelize_notes'),
};

// Where to log in: the RDS_* variables, or the emulator. `iam` carries what only the emulator needs
// (the endpoint name it signs for, its region, its demo credentials and its CA); on RDS it is empty.
const { host, port, user, database, iam, close } = await exampleTarget('mysql');

// --- snippet: sequelize-mysql ---
import { iamSequelizeOptions } from '@rds-iam/sequelize';
import { Sequelize } from 'sequelize';

const sequelize = new Sequelize(
  iamSequelizeOptions({
    dialect: 'mysql', // or 'mariadb' (the mariadb connector); mysql2's cleartext plugin sends the token over TLS
    host, // the RDS, Aurora or RDS Proxy endpoint; the region comes from its name
    port,
    username: user, // a user IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'
    database,
    ...iam, // empty on RDS; for the local emulator: signingHost, region, credentials, ssl: { ca }
    pool: { max: 10 },
    logging: false,
  }),
);
await sequelize.authenticate(); // every new pooled connection logs in with a fresh token
// --- end snippet ---

try {
  const qi = sequelize.getQueryInterface();
  await createNotes.up(qi);
  console.log(`migrations applied: ${createNotes.name}`);

  const Note = sequelize.define(
    'Note',
    {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      body: { type: DataTypes.STRING(200), allowNull: false },
    },
    { tableName: 'sequelize_notes', timestamps: false },
  );
  await Note.bulkCreate([{ body: 'first' }, { body: 'second' }]);
  await sequelize.transaction(async (transaction) => {
    await Note.create({ body: 'third, in a transaction' }, { transaction });
  });
  const [who] = await sequelize.query("SELECT SUBSTRING_INDEX(USER(), '@', 1) AS user", {
    type: QueryTypes.SELECT,
  });
  console.log(`logged in as ${who.user} with an IAM token`);
  const all = await Note.findAll({ order: [['id', 'ASC']] });
  console.log(`notes: ${all.map((n) => n.body).join(' | ')}`);

  await createNotes.down(qi);
  console.log('migrations rolled back');
} finally {
  await sequelize.close();
  await close();
}
