// The knex CLI's configuration, which the app imports too:
//   npx knex migrate:latest --knexfile knex/knexfile.mjs
// --- snippet: migrations-cli-knex ---
import { iamConnection } from '@rds-iam/knex';
import { database } from '../database.mjs';

const { iam, ...settings } = database;

export default {
  client: 'pg',
  connection: iamConnection({ ...settings, ...iam }),
  pool: { min: 0, max: 10 },
  migrations: { directory: './migrations', loadExtensions: ['.mjs'] },
};
// --- end snippet ---
