/** @param {import('knex').Knex} knex */
export async function up(knex) {
  await knex.schema.createTable('cli_knex_notes', (t) => {
    t.increments('id');
    t.string('body', 200).notNullable();
  });
}

/** @param {import('knex').Knex} knex */
export async function down(knex) {
  await knex.schema.dropTable('cli_knex_notes');
}
