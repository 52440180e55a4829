import { Table } from 'typeorm';

/** A TypeORM migration class (what `typeorm migration:create` writes), in plain JavaScript. */
export class CreateNotes1767225600000 {
  name = 'CreateNotes1767225600000';

  /** @param {import('typeorm').QueryRunner} queryRunner */
  async up(queryRunner) {
    await queryRunner.createTable(
      new Table({
        name: 'typeorm_notes',
        columns: [
          {
            name: 'id',
            type: 'int',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'body', type: 'varchar', length: '200' },
        ],
      }),
    );
  }

  /** @param {import('typeorm').QueryRunner} queryRunner */
  async down(queryRunner) {
    await queryRunner.dropTable('typeorm_notes');
  }
}
