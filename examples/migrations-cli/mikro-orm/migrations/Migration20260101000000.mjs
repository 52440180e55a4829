import { Migration } from '@mikro-orm/migrations';

export class Migration20260101000000 extends Migration {
  async up() {
    this.addSql(
      'CREATE TABLE cli_mikro_orm_notes (id serial PRIMARY KEY, body varchar(200) NOT NULL)',
    );
  }

  async down() {
    this.addSql('DROP TABLE cli_mikro_orm_notes');
  }
}
