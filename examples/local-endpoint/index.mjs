// Where the examples log in: a real RDS endpoint when RDS_HOST is set, else the rds-iam emulator in
// front of the local database, so every example runs on a laptop with one command.
//
//   const target = await exampleTarget('postgres'); // or 'mysql'
//   const pool = createPool({ host: target.host, port: target.port, user: target.user,
//     database: target.database, ...target.iam });
//   ...
//   await target.close();
//
// Real endpoint: RDS_HOST, RDS_PORT, RDS_USER, RDS_DATABASE, RDS_REGION, and optionally
// RDS_SIGNING_HOST / RDS_SIGNING_PORT (when RDS_HOST is a tunnel or alias) and RDS_CA_FILE (a CA
// other than the RDS ones). Credentials come from the AWS SDK's default chain.
//
// Local: the emulator in front of PostgreSQL on 127.0.0.1:5432 (user postgres) or MariaDB/MySQL on
// 127.0.0.1:3306 (user root, no password), or the admin URLs in RDS_IAM_EXAMPLE_POSTGRES_URL /
// RDS_IAM_EXAMPLE_MYSQL_URL. The user and database `rds_iam_example` are created there if missing
// (PostgreSQL: with GRANT rds_iam, as on RDS). When no PostgreSQL answers on 127.0.0.1:5432 (or with
// RDS_IAM_EXAMPLE_EMBEDDED=1), an embedded PostgreSQL (PGlite) stands in, as in `pnpm demo`; for
// MySQL the example stops with one line that says what to start.
import { readFileSync } from 'node:fs';
import { startEmulator } from '@rds-iam/emulator';
import mysql from 'mysql2/promise';
import pg from 'pg';

/** The local user and database the examples log in as (created if missing). */
export const EXAMPLE_NAME = 'rds_iam_example';
/** Its upstream password: only the emulator uses it, to log in behind a token it has checked. */
const UPSTREAM_PASSWORD = 'rds-iam-example-upstream';
/** The RDS endpoint name the emulator plays: tokens are signed for it, its certificate names it. */
export const EXAMPLE_ENDPOINT = {
  postgres: 'rds-iam-example.cluster-c0ffee123456.us-east-1.rds.amazonaws.com',
  mysql: 'rds-iam-example-mysql.cluster-c0ffee123456.us-east-1.rds.amazonaws.com',
};
const DEFAULT_ADMIN_URL = {
  postgres: 'postgres://postgres@127.0.0.1:5432/postgres',
  mysql: 'mysql://root@127.0.0.1:3306',
};
const DEFAULT_PORT = { postgres: 5432, mysql: 3306 };

/**
 * The endpoint an example logs in to, for `engine` ('postgres' or 'mysql'). When no local database
 * can be had it prints one line that says what to start, and exits with code 1.
 *
 * @returns {Promise<{ host: string, port: number, user: string, database: string,
 *   iam: Record<string, unknown>, emulated: boolean, close(): Promise<void> }>}
 */
export async function exampleTarget(engine) {
  try {
    return await resolveTarget(engine);
  } catch (err) {
    if (!(err instanceof NoLocalDatabase)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}

/** No local database answered, and nothing stands in for it: the message says what to start. */
class NoLocalDatabase extends Error {}

/** How a local server is usually started, for the message when none answers. */
const START_HINT = {
  postgres: 'its admin user postgres without a password, e.g. `sudo service postgresql start`',
  mysql: 'its admin user root without a password, e.g. `sudo service mariadb start`',
};

const ADMIN_URL_VARIABLE = {
  postgres: 'RDS_IAM_EXAMPLE_POSTGRES_URL',
  mysql: 'RDS_IAM_EXAMPLE_MYSQL_URL',
};

async function resolveTarget(engine) {
  if (engine !== 'postgres' && engine !== 'mysql') {
    throw new TypeError(`exampleTarget: engine must be 'postgres' or 'mysql', not ${engine}`);
  }
  const env = process.env;
  if (env.RDS_HOST) return realTarget(engine, env);

  const upstream = await localUpstream(engine, env);
  const emulator = await startEmulator({
    engine,
    upstream: upstream.address,
    endpoint: { host: EXAMPLE_ENDPOINT[engine], port: DEFAULT_PORT[engine] },
    region: 'us-east-1',
  }).catch(async (err) => {
    await upstream.close();
    throw err;
  });
  return {
    host: emulator.host,
    port: emulator.port,
    user: EXAMPLE_NAME,
    database: EXAMPLE_NAME,
    // What makes a token for the emulator: its endpoint name and port (as through a tunnel), its
    // region, the demo keys it accepts, and the CA of its certificate.
    iam: emulator.iamOptions(),
    emulated: true,
    close: () => emulator.stop().finally(upstream.close),
  };
}

/**
 * The local server the emulator logs in to: the admin URL's (the example user created there), or
 * an embedded PostgreSQL when the default one does not answer.
 */
async function localUpstream(engine, env) {
  const given = env[ADMIN_URL_VARIABLE[engine]];
  if (engine === 'postgres' && env.RDS_IAM_EXAMPLE_EMBEDDED === '1') {
    return startEmbeddedPostgres('RDS_IAM_EXAMPLE_EMBEDDED=1');
  }
  const admin = new URL(given ?? DEFAULT_ADMIN_URL[engine]);
  const address = {
    host: admin.hostname,
    port: Number(admin.port || DEFAULT_PORT[engine]),
    // MySQL / MariaDB: an IAM user has no password of its own (see ensureExampleUser).
    auth:
      engine === 'postgres' ? { kind: 'password', password: UPSTREAM_PASSWORD } : { kind: 'trust' },
  };
  let release;
  try {
    release = await ensureExampleUser(engine, admin);
  } catch (err) {
    if (!isNoServer(err)) throw err;
    const where = `${address.host}:${address.port}`;
    if (engine === 'postgres' && given === undefined) {
      return startEmbeddedPostgres(`no PostgreSQL answered on ${where}`);
    }
    const server = engine === 'postgres' ? 'PostgreSQL' : 'MySQL or MariaDB';
    throw new NoLocalDatabase(
      `No ${server} answered on ${where}${given === undefined ? '' : ` (${ADMIN_URL_VARIABLE[engine]})`}. Start one there (${START_HINT[engine]}), set ${ADMIN_URL_VARIABLE[engine]} to an admin URL of yours, or RDS_HOST and RDS_USER to log in to a real endpoint.`,
    );
  }
  return { address, close: release };
}

/** The driver's error for a server that is not there (nothing listens, or nothing answers). */
function isNoServer(err) {
  const codes = [err?.code, ...(err?.errors ?? []).map((e) => e?.code)];
  return (
    codes.some((code) =>
      ['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'].includes(code),
    ) || /timeout/i.test(err?.message ?? '')
  );
}

/**
 * PGlite, PostgreSQL in WebAssembly, behind its socket server: what `pnpm demo` uses when no
 * PostgreSQL runs. It has one user (every login is `postgres`) and one database; the example user
 * exists there with `rds_iam`, so the emulator takes it as RDS would.
 */
async function startEmbeddedPostgres(why) {
  console.error(`Using an embedded PostgreSQL (PGlite), because ${why}.`);
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
  ]);
  const db = await PGlite.create();
  await db.exec(
    `CREATE ROLE rds_iam; CREATE ROLE ${EXAMPLE_NAME} LOGIN; GRANT rds_iam TO ${EXAMPLE_NAME};`,
  );
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 100 });
  await server.start();
  const conn = server.getServerConn();
  return {
    address: { host: '127.0.0.1', port: Number(conn.slice(conn.lastIndexOf(':') + 1)) },
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}

function realTarget(engine, env) {
  const iam = {};
  if (env.RDS_SIGNING_HOST) iam.signingHost = env.RDS_SIGNING_HOST;
  if (env.RDS_SIGNING_PORT) iam.signingPort = Number(env.RDS_SIGNING_PORT);
  if (env.RDS_REGION) iam.region = env.RDS_REGION;
  if (env.RDS_CA_FILE) iam.ssl = { ca: readFileSync(env.RDS_CA_FILE, 'utf8') };
  return {
    host: env.RDS_HOST,
    port: Number(env.RDS_PORT ?? DEFAULT_PORT[engine]),
    user: env.RDS_USER ?? 'app',
    database: env.RDS_DATABASE ?? 'app',
    iam,
    emulated: false,
    close: async () => {},
  };
}

/**
 * Creates the example user and database upstream when missing, and waits for this example's turn:
 * the examples share that user, database and their tables, so on one server (two terminals, two CI
 * runs at once) they run one at a time, each holding a lock on its admin connection (PostgreSQL's
 * advisory lock, MySQL's GET_LOCK) until `close()` or the process ends. Resolves to the release.
 */
async function ensureExampleUser(engine, admin) {
  const login = {
    host: admin.hostname,
    port: Number(admin.port || DEFAULT_PORT[engine]),
    user: decodeURIComponent(admin.username || (engine === 'postgres' ? 'postgres' : 'root')),
    password: decodeURIComponent(admin.password),
  };
  if (engine === 'postgres') {
    const client = new pg.Client({
      ...login,
      database: admin.pathname.slice(1) || 'postgres',
      connectionTimeoutMillis: 10_000,
    });
    await client.connect();
    try {
      await client.query("SET lock_timeout = '300s'");
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [EXAMPLE_NAME]);
      const ignoreDuplicate = (err) => {
        // 42710 duplicate_object, 42P04 duplicate_database, 23505: a concurrent CREATE won the race.
        if (!['42710', '42P04', '23505'].includes(err.code)) throw err;
      };
      const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [EXAMPLE_NAME]);
      if (role.rowCount === 0) {
        await client
          .query(`CREATE ROLE ${EXAMPLE_NAME} LOGIN PASSWORD '${UPSTREAM_PASSWORD}'`)
          .catch(ignoreDuplicate);
      } else {
        await client.query(`ALTER ROLE ${EXAMPLE_NAME} LOGIN PASSWORD '${UPSTREAM_PASSWORD}'`);
      }
      // The seed's GRANT rds_iam: RDS has the role, a local server is given it here. Without the
      // grant the emulator, strict as RDS, refuses the token.
      await client
        .query(
          'DO $$BEGIN CREATE ROLE rds_iam NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$',
        )
        .catch(ignoreDuplicate);
      await client.query(`GRANT rds_iam TO ${EXAMPLE_NAME}`);
      const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [EXAMPLE_NAME]);
      if (db.rowCount === 0) {
        await client
          .query(`CREATE DATABASE ${EXAMPLE_NAME} OWNER ${EXAMPLE_NAME}`)
          .catch(ignoreDuplicate);
      }
    } catch (err) {
      await client.end();
      throw err;
    }
    return () => client.end();
  }
  const conn = await mysql.createConnection({ ...login, connectTimeout: 10_000 });
  try {
    // RDS: IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS', which only RDS has. Locally an IAM
    // user is one with the server's own plugin and no password: the emulator logs in without one,
    // and refuses a user that has a password, as RDS does.
    const [[turn]] = await conn.query('SELECT GET_LOCK(?, 300) AS got', [EXAMPLE_NAME]);
    if (turn.got !== 1) throw new Error(`no turn for ${EXAMPLE_NAME} on the MySQL server in 300 s`);
    for (const host of ['%', 'localhost']) {
      await conn.query(`CREATE USER IF NOT EXISTS '${EXAMPLE_NAME}'@'${host}'`);
      // An older user of that name may have a password (from before): take it away.
      await conn.query(`ALTER USER '${EXAMPLE_NAME}'@'${host}' IDENTIFIED BY ''`);
    }
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${EXAMPLE_NAME}\``);
    for (const host of ['%', 'localhost']) {
      await conn.query(
        `GRANT ALL PRIVILEGES ON \`${EXAMPLE_NAME}\`.* TO '${EXAMPLE_NAME}'@'${host}'`,
      );
    }
  } catch (err) {
    await conn.end();
    throw err;
  }
  return () => conn.end();
}

// `pnpm --filter @rds-iam/example-local-endpoint start`: shows what the examples get, then stops.
if (import.meta.url === `file://${process.argv[1]}`) {
  for (const engine of ['postgres', 'mysql']) {
    try {
      const target = await resolveTarget(engine);
      const { signingHost, signingPort } = target.iam;
      console.log(
        `${engine}: ${target.user}@${target.host}:${target.port}/${target.database}`,
        target.emulated
          ? `(emulator; tokens signed for ${signingHost}:${signingPort})`
          : '(real endpoint)',
      );
      await target.close();
    } catch (err) {
      console.log(`${engine}: not available (${err.message})`);
    }
  }
}
