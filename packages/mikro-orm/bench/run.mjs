// Benchmark of @rds-iam/mikro-orm (after `pnpm build`; needs @rds-iam/emulator built):
//   node packages/mikro-orm/bench/run.mjs
// New-connection latency through MikroORM's knex client (acquireRawConnection: the driver's login
// hook, TLS, then SELECT 1), against the same MikroORM driver given one pre-minted valid token and
// the same TLS settings.
import { createRequire } from 'node:module';
import { MikroORM } from '@mikro-orm/core';
import { MariaDbDriver } from '@mikro-orm/mariadb';
import { MySqlDriver } from '@mikro-orm/mysql';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { benchOrm, timeNewConnection } from '../../../scripts/bench/orm-latency.mjs';
import { iamMikroOrmOptions } from '../dist/index.js';

const version = (name) => createRequire(import.meta.url)(`${name}/package.json`).version;

/** One new physical connection from `orm`'s knex client, SELECT 1 on it, destroyed. */
function opener(orm) {
  const client = orm.em.getConnection().getKnex().client;
  return {
    once: () =>
      timeNewConnection(
        () => client.acquireRawConnection(),
        (c) => client._query(c, { sql: 'SELECT 1', bindings: [], method: 'raw' }),
        (c) => client.destroyRawConnection(c),
      ),
    close: () => orm.close(true),
  };
}

const common = (t, driver) => ({
  driver,
  host: t.host,
  port: t.port,
  user: t.user,
  dbName: t.database,
  discovery: { warnWhenNoEntities: false },
  connect: false,
});

const DRIVERS = [
  ['PostgreSqlDriver', PostgreSqlDriver, 'postgres'],
  ['MySqlDriver', MySqlDriver, 'mysql'],
  ['MariaDbDriver', MariaDbDriver, 'mysql'],
];

await benchOrm(
  '@rds-iam/mikro-orm',
  `@mikro-orm/core ${version('@mikro-orm/core')}`,
  DRIVERS.map(([label, driver, engine]) => ({
    label,
    engine,
    iam: async (t) =>
      opener(await MikroORM.init(iamMikroOrmOptions({ ...common(t, driver), ...t.iam }))),
    fixed: async (t) => {
      const ssl = { ca: t.ca, servername: t.servername, rejectUnauthorized: true };
      const connection =
        driver === MySqlDriver
          ? { ssl, authPlugins: { mysql_clear_password: () => () => Buffer.from(`${t.token}\0`) } }
          : { ssl };
      return opener(
        await MikroORM.init({
          ...common(t, driver),
          password: t.token,
          driverOptions: { connection },
        }),
      );
    },
  })),
);
