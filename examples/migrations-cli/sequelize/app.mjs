// The app, on the config sequelize-cli reads: run after `sequelize-cli db:migrate`.
import { DataTypes, QueryTypes, Sequelize } from 'sequelize';
import config from './config.mjs';

// As the models/index.js that `sequelize init` generates builds it: the password argument is the
// token hook that iamSequelizeOptions() put in the config.
const sequelize = new Sequelize(config.database, config.username, config.password, config);
const Note = sequelize.define(
  'Note',
  { body: { type: DataTypes.STRING(200), allowNull: false } },
  { tableName: 'cli_sequelize_notes', timestamps: false },
);
try {
  await Note.create({ body: 'written by the app' });
  const [who] = await sequelize.query('SELECT current_user AS "user"', { type: QueryTypes.SELECT });
  const notes = await Note.findAll();
  console.log(
    `logged in as ${who.user} with an IAM token; notes: ${notes.map((n) => n.get('body')).join(' | ')}`,
  );
} finally {
  await sequelize.close();
}
