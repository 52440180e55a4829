export class CliTypeormNotes1767225600000 {
  name = 'CliTypeormNotes1767225600000';

  /** @param {import('typeorm').QueryRunner} queryRunner */
  async up(queryRunner) {
    await queryRunner.query(
      'CREATE TABLE cli_typeorm_notes (id serial PRIMARY KEY, body varchar(200) NOT NULL)',
    );
  }

  /** @param {import('typeorm').QueryRunner} queryRunner */
  async down(queryRunner) {
    await queryRunner.query('DROP TABLE cli_typeorm_notes');
  }
}
