/** @type {import('sequelize-cli').Migration} */
module.exports = {
  async up(queryInterface, Sequelize) {
    await queryInterface.createTable('cli_sequelize_notes', {
      id: { type: Sequelize.INTEGER, primaryKey: true, autoIncrement: true },
      body: { type: Sequelize.STRING(200), allowNull: false },
    });
  },
  async down(queryInterface) {
    await queryInterface.dropTable('cli_sequelize_notes');
  },
};
