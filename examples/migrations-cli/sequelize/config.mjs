// sequelize-cli's configuration (found through .sequelizerc), which the app imports too:
//   npx sequelize-cli db:migrate   (in sequelize/)
// --- snippet: migrations-cli-sequelize ---
import { iamSequelizeOptions } from '@rds-iam/sequelize';
import { database } from '../database.mjs';

const { iam, user, ...settings } = database;

// sequelize-cli passes this object to `new Sequelize(options)`, as the app does.
export default iamSequelizeOptions({
  dialect: 'postgres',
  ...settings,
  username: user,
  ...iam,
  logging: false,
});
// --- end snippet ---
