/** @param {import('knex').Knex} knex */
export async function up(knex) {
  await knex.schema.createTable('knex_notes', (t) => {
    t.increments('id');
    t.string('body', 200).notNullable();
    t.timestamp('created_at').notNullable().defaultTo(knex.fn.now());
  });
}

/** @param {import('knex').Knex} knex */
export async function down(knex) {
  await knex.schema.dropTable('knex_notes');
}
