// Run by failed-mint-exit.e2e.test.ts, one process per integration: `node failed-mint-child.mjs NAME`.
// Opens the integration's pool towards the endpoint in RDS_IAM_CHILD_* with credentials that cannot
// be had, so no token can be minted; runs one query, which must fail; ends the pool; prints
// `result: {"failed":true,"code":...,"ended":true}` and then does nothing more. The process must exit
// by itself: anything left open (a socket whose login never got its token) keeps it alive.
const env = process.env;
const target = {
  host: env.RDS_IAM_CHILD_HOST,
  port: Number(env.RDS_IAM_CHILD_PORT),
  user: env.RDS_IAM_CHILD_USER,
  database: env.RDS_IAM_CHILD_DATABASE,
  signingHost: env.RDS_IAM_CHILD_SIGNING_HOST,
  signingPort: Number(env.RDS_IAM_CHILD_SIGNING_PORT),
  region: env.RDS_IAM_CHILD_REGION,
  ssl: { ca: env.RDS_IAM_CHILD_CA },
  credentials: async () => {
    throw new Error('no credentials on this machine');
  },
};
const { user, database, ...iam } = target;

/** Per integration: open a pool, run one query through it, end it. */
const INTEGRATIONS = {
  async pg() {
    const { createPool } = await import('@rds-iam/pg');
    const pool = createPool({ ...target, max: 2 });
    return { query: () => pool.query('SELECT 1'), end: () => pool.end() };
  },
  async mysql2() {
    const { createPool } = await import('@rds-iam/mysql2');
    const pool = createPool({ ...target, connectionLimit: 2 });
    return { query: () => pool.query('SELECT 1'), end: () => pool.end() };
  },
  'knex pg': () => knex('pg'),
  'knex mysql2': () => knex('mysql2'),
  'typeorm postgres': () => typeorm('postgres'),
  'typeorm mysql': () => typeorm('mysql'),
  'sequelize postgres': () => sequelize('postgres'),
  'sequelize mysql': () => sequelize('mysql'),
  'sequelize mariadb': () => sequelize('mariadb'),
  'mikro-orm postgres': () => mikroOrm('@mikro-orm/postgresql', 'PostgreSqlDriver'),
  'mikro-orm mysql': () => mikroOrm('@mikro-orm/mysql', 'MySqlDriver'),
  'mikro-orm mariadb': () => mikroOrm('@mikro-orm/mariadb', 'MariaDbDriver'),
  'prisma pg': () => prisma('pg'),
  'prisma mariadb': () => prisma('mariadb'),
  async 'postgres.js'() {
    const { iamPostgresOptions } = await import('@rds-iam/postgres');
    const { default: postgres } = await import('postgres');
    const sql = postgres(iamPostgresOptions({ ...target, max: 2, connect_timeout: 30 }));
    return { query: () => sql`SELECT 1`, end: () => sql.end() };
  },
};

async function knex(client) {
  const { iamConnection } = await import('@rds-iam/knex');
  const { default: knexFactory } = await import('knex');
  const db = knexFactory({
    client,
    connection: iamConnection(client === 'pg' ? target : { ...target, client }),
    pool: { min: 0, max: 2 },
    // knex logs each failed acquire with its stack; an application would route it to its logger.
    log: { warn: () => {}, error: () => {} },
  });
  return { query: () => db.raw('SELECT 1'), end: () => db.destroy() };
}

async function typeorm(type) {
  const { iamDataSourceOptions } = await import('@rds-iam/typeorm');
  const { DataSource } = await import('typeorm');
  const ds = new DataSource(iamDataSourceOptions({ ...iam, type, username: user, database }));
  return {
    query: () => ds.initialize(),
    end: async () => {
      if (ds.isInitialized) await ds.destroy();
    },
  };
}

async function sequelize(dialect) {
  const { iamSequelizeOptions } = await import('@rds-iam/sequelize');
  const { Sequelize } = await import('sequelize');
  const db = new Sequelize(
    iamSequelizeOptions({ ...iam, dialect, username: user, database, logging: false }),
  );
  return { query: () => db.query('SELECT 1'), end: () => db.close() };
}

async function mikroOrm(module, driverName) {
  const { iamMikroOrmOptions } = await import('@rds-iam/mikro-orm');
  const { MikroORM } = await import('@mikro-orm/core');
  const driver = (await import(module))[driverName];
  const orm = await MikroORM.init(
    iamMikroOrmOptions({
      ...target,
      dbName: database,
      driver,
      connect: false,
      discovery: { warnWhenNoEntities: false },
    }),
  );
  return {
    query: () => orm.em.getConnection().execute('SELECT 1'),
    end: () => orm.close(true),
  };
}

async function prisma(adapter) {
  const factory =
    adapter === 'pg'
      ? (await import('@rds-iam/prisma/pg')).iamPrismaPg({ ...target, max: 2 })
      : (await import('@rds-iam/prisma/mariadb')).iamPrismaMariaDb({
          ...target,
          connectionLimit: 2,
        });
  const driver = await factory.connect();
  return {
    query: () => driver.queryRaw({ sql: 'SELECT 1', args: [], argTypes: [] }),
    end: () => driver.dispose(),
  };
}

const open = INTEGRATIONS[process.argv[2]];
if (!open) throw new Error(`unknown integration ${process.argv[2]}`);
const integration = await open();
const failure = await integration.query().then(
  () => undefined,
  (err) => err,
);
await integration.end();
const code = failure?.code ?? failure?.cause?.code ?? failure?.original?.code;
process.stdout.write(
  `result: ${JSON.stringify({ failed: failure !== undefined, code, ended: true })}\n`,
);
