// The MikroORM CLI's configuration, which the app imports too:
//   MIKRO_ORM_CLI_USE_TS_NODE=false npx mikro-orm migration:up --config mikro-orm.config.mjs
import { EntitySchema } from '@mikro-orm/core';

export const Note = new EntitySchema({
  name: 'Note',
  tableName: 'cli_mikro_orm_notes',
  properties: {
    id: { type: 'number', primary: true },
    body: { type: 'string', length: 200 },
  },
});

// --- snippet: migrations-cli-mikro-orm ---
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { iamMikroOrmOptions } from '@rds-iam/mikro-orm';
import { database } from '../database.mjs';

const { iam, database: dbName, ...settings } = database;

export default iamMikroOrmOptions({
  driver: PostgreSqlDriver,
  ...settings,
  dbName,
  ...iam,
  entities: [Note],
  extensions: [Migrator],
  migrations: {
    path: new URL('migrations', import.meta.url).pathname,
    glob: '!(*.d).mjs',
    tableName: 'cli_mikro_orm_migrations',
    snapshot: false,
  },
});
// --- end snippet ---
