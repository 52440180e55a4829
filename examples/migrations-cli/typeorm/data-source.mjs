// The TypeORM CLI's data source, which the app imports too:
//   npx typeorm migration:run -d typeorm/data-source.mjs
import { EntitySchema } from 'typeorm';
import { CliTypeormNotes1767225600000 } from './migrations/1767225600000-CliTypeormNotes.mjs';

export const Note = new EntitySchema({
  name: 'Note',
  tableName: 'cli_typeorm_notes',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    body: { type: 'varchar', length: 200 },
  },
});

// --- snippet: migrations-cli-typeorm ---
import { iamDataSourceOptions } from '@rds-iam/typeorm';
import { DataSource } from 'typeorm';
import { database } from '../database.mjs';

const { iam, host, port, user, password } = database;

export default new DataSource(
  iamDataSourceOptions({
    type: 'postgres',
    host,
    port,
    username: user,
    password,
    database: database.database,
    ...iam,
    entities: [Note],
    migrations: [CliTypeormNotes1767225600000],
    migrationsTableName: 'cli_typeorm_migrations',
  }),
);
// --- end snippet ---
