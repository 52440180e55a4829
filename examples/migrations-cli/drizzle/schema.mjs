import { pgTable, serial, varchar } from 'drizzle-orm/pg-core';

export const notes = pgTable('cli_drizzle_notes', {
  id: serial('id').primaryKey(),
  body: varchar('body', { length: 200 }).notNull(),
});
