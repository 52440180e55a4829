// Benchmark of @rds-iam/sequelize (after `pnpm build`; needs @rds-iam/emulator built):
//   node packages/sequelize/bench/run.mjs
// New-connection latency through Sequelize's connection manager (its pool opens a new physical
// connection: beforeConnect, the driver's login hook, TLS, SELECT 1), against the same Sequelize
// dialect given one pre-minted valid token as its password and the same TLS settings.
import { createRequire } from 'node:module';
import { Sequelize } from 'sequelize';
import { benchOrm, timeNewConnection } from '../../../scripts/bench/orm-latency.mjs';
import { iamSequelizeOptions } from '../dist/index.js';

const version = (name) => createRequire(import.meta.url)(`${name}/package.json`).version;

/** One new physical connection from `sequelize`'s pool, SELECT 1 on it, destroyed. */
function opener(sequelize, dialect) {
  const manager = sequelize.connectionManager;
  const query =
    dialect === 'mysql'
      ? (c) => new Promise((ok, fail) => c.query('SELECT 1', (e) => (e ? fail(e) : ok())))
      : (c) => c.query('SELECT 1');
  return {
    once: () =>
      timeNewConnection(
        () => manager.getConnection({ type: 'SELECT' }),
        query,
        (c) => manager.destroyConnection(c),
      ),
    close: () => sequelize.close(),
  };
}

const common = (t, dialect) => ({
  dialect,
  host: t.host,
  port: t.port,
  username: t.user,
  database: t.database,
  logging: false,
  pool: { max: 1, min: 0 },
  // The bench opens connections itself; the server version is read once, up front.
  databaseVersion: dialect === 'postgres' ? '15.0.0' : '10.11.0',
});

await benchOrm(
  '@rds-iam/sequelize',
  `sequelize ${version('sequelize')}, pg ${version('pg')}, mysql2 ${version('mysql2')}, mariadb ${createRequire(import.meta.url)('mariadb').version}`,
  ['postgres', 'mysql', 'mariadb'].map((dialect) => ({
    label: dialect,
    engine: dialect === 'postgres' ? 'postgres' : 'mysql',
    iam: async (t) =>
      opener(new Sequelize(iamSequelizeOptions({ ...common(t, dialect), ...t.iam })), dialect),
    fixed: async (t) => {
      const ssl = { ca: t.ca, servername: t.servername, rejectUnauthorized: true };
      const dialectOptions =
        dialect === 'postgres'
          ? { ssl }
          : dialect === 'mysql'
            ? {
                ssl,
                authPlugins: { mysql_clear_password: () => () => Buffer.from(`${t.token}\0`) },
              }
            : { ssl };
      return opener(
        new Sequelize({ ...common(t, dialect), password: t.token, dialectOptions }),
        dialect,
      );
    },
  })),
);
