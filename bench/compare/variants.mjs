// The three ways of opening a new physical connection that the benchmark compares, per engine:
//   rds-iam  @rds-iam/pg createPool / @rds-iam/mysql2 createPool (token from the shared cache),
//   wrapper  aws-advanced-nodejs-wrapper 2.0.1 AwsPGClient / AwsMySQLClient with plugins: 'iam',
//   floor    the plain driver (pg / mysql2) given one fixed, pre-minted valid token.
// Imported by child.mjs only after it has (optionally) installed the simulated clock.
//
// Every variant exposes the same operations:
//   connect(): opens a new physical connection and runs SELECT 1; resolves to a handle.
//   close(handle): closes that connection and waits until it is closed.
//   mints(): tokens minted in this process, counted client-side.
//   end(): releases pools.

/**
 * @typedef {object} Target what the child dials and what tokens are signed for
 * @property {string} host the emulator's listen address
 * @property {number} port the emulator's listen port
 * @property {string} endpointHost the RDS hostname tokens are signed for (and the TLS name)
 * @property {number} endpointPort the RDS port tokens are signed for
 * @property {string} region
 * @property {string} user
 * @property {string} database
 * @property {string} caPem the emulator's CA
 * @property {string} [fixedToken] the floor's password
 */

/**
 * rds-iam's options for either driver (the emulator's address, the RDS endpoint tokens are signed
 * for, its CA) and a count of the tokens it mints, read from its `minted` events.
 */
function rdsIamOptions(t) {
  let minted = 0;
  const options = {
    host: t.host,
    port: t.port,
    user: t.user,
    signingHost: t.endpointHost,
    signingPort: t.endpointPort,
    region: t.region,
    ssl: { ca: t.caPem },
    onEvent: (e) => {
      if (e.type === 'minted') minted++;
    },
  };
  return { options, mints: () => minted };
}

/** A pg pool as a variant: a new physical connection per sample, destroyed when closed. */
function pgPoolVariant(pool, mints) {
  pool.on('error', () => {});
  return {
    async connect() {
      const client = await pool.connect();
      try {
        await client.query('SELECT 1');
      } catch (err) {
        client.release(true);
        throw err;
      }
      return client;
    },
    async close(client) {
      const ended = pgEnded(client);
      client.release(true);
      await ended;
    },
    mints,
    end: () => pool.end(),
  };
}

/** A mysql2 promise pool as a variant: a new physical connection per sample, destroyed when closed. */
function mysqlPoolVariant(pool, mints) {
  return {
    async connect() {
      const connection = await pool.getConnection();
      try {
        await connection.query('SELECT 1');
      } catch (err) {
        connection.destroy();
        throw err;
      }
      return connection;
    },
    close: (connection) => destroyMysql(connection.connection ?? connection),
    mints,
    end: () => pool.end(),
  };
}

/** The wrapper's clients as a variant: one client per sample, ended when closed. */
function wrapperVariant(newClient, select, mints) {
  return {
    async connect() {
      const client = newClient();
      await client.connect();
      try {
        await client.query(select);
      } catch (err) {
        await client.end().catch(() => {});
        throw err;
      }
      return client;
    },
    close: (client) => client.end(),
    mints,
    end: async () => {},
  };
}

/** pg: wait until a client's socket is gone. */
function pgEnded(client) {
  return new Promise((resolve) => client.once('end', () => resolve(undefined)));
}

const variants = {
  postgres: {
    async 'rds-iam'(t, { max }) {
      const { createPool } = await import('@rds-iam/pg');
      const { options, mints } = rdsIamOptions(t);
      // verify-full against this CA; the expected name is the signing host (rds-iam's default).
      const pool = createPool({ ...options, database: t.database, max });
      return pgPoolVariant(pool, mints);
    },

    async wrapper(t) {
      const { AwsPGClient } = await import('aws-advanced-nodejs-wrapper/pg');
      const countMints = await signerMintCounter();
      const config = {
        host: t.host,
        port: t.port,
        user: t.user,
        database: t.database,
        ssl: { ca: t.caPem, servername: t.endpointHost, rejectUnauthorized: true },
        plugins: 'iam',
        // Fixed dialect: no Aurora/RDS detection queries on the first connection.
        dialect: 'pg',
        iamHost: t.endpointHost,
        iamDefaultPort: t.endpointPort,
        iamRegion: t.region,
      };
      return wrapperVariant(() => new AwsPGClient(config), 'SELECT 1', countMints);
    },

    async floor(t, { max }) {
      const { default: pg } = await import('pg');
      const pool = new pg.Pool({
        host: t.host,
        port: t.port,
        user: t.user,
        database: t.database,
        max,
        password: t.fixedToken,
        ssl: { ca: t.caPem, servername: t.endpointHost, rejectUnauthorized: true },
      });
      return pgPoolVariant(pool, () => 0);
    },
  },

  mysql: {
    async 'rds-iam'(t, { max }) {
      const { createPool } = await import('@rds-iam/mysql2');
      const { options, mints } = rdsIamOptions(t);
      // CA verified by mysql2; the signing host's name checked by rds-iam before the token is sent.
      const pool = createPool({ ...options, connectionLimit: max });
      return mysqlPoolVariant(pool, mints);
    },

    async wrapper(t) {
      const { AwsMySQLClient } = await import('aws-advanced-nodejs-wrapper/mysql');
      const countMints = await signerMintCounter();
      const config = {
        host: t.host,
        port: t.port,
        user: t.user,
        // mysql2 refuses the server's switch to mysql_clear_password unless told; the wrapper
        // doesn't set it for its IAM plugin.
        enableCleartextPlugin: true,
        // mysql2 checks a name only with verifyIdentity, and only the dialled host: 127.0.0.1 here.
        ssl: { ca: t.caPem, rejectUnauthorized: true, verifyIdentity: true },
        plugins: 'iam',
        dialect: 'mysql',
        iamHost: t.endpointHost,
        iamDefaultPort: t.endpointPort,
        iamRegion: t.region,
      };
      return wrapperVariant(() => new AwsMySQLClient(config), { sql: 'SELECT 1' }, countMints);
    },

    async floor(t, { max }) {
      const { default: mysql } = await import('mysql2/promise');
      const pool = mysql.createPool({
        host: t.host,
        port: t.port,
        user: t.user,
        connectionLimit: max,
        password: t.fixedToken,
        enableCleartextPlugin: true,
        ssl: { ca: t.caPem, rejectUnauthorized: true, verifyIdentity: true },
      });
      return mysqlPoolVariant(pool, () => 0);
    },
  },
};

/** mysql2 pool connection: destroy it (so the pool opens a new one) and wait for the socket. */
function destroyMysql(core) {
  return new Promise((resolve) => {
    const stream = core.stream;
    if (!stream || stream.destroyed) {
      core.destroy();
      resolve(undefined);
      return;
    }
    stream.once('close', () => resolve(undefined));
    core.destroy();
  });
}

/**
 * The wrapper signs with @aws-sdk/rds-signer's Signer (a new one per token); count getAuthToken
 * calls in this process. It resolves to the same module file as the wrapper's own import.
 */
async function signerMintCounter() {
  const { Signer } = await import('@aws-sdk/rds-signer');
  const state = globalThis.__benchSignerCount ?? { n: 0 };
  if (!globalThis.__benchSignerCount) {
    globalThis.__benchSignerCount = state;
    const original = Signer.prototype.getAuthToken;
    Signer.prototype.getAuthToken = function getAuthToken(...args) {
      state.n++;
      return original.apply(this, args);
    };
  }
  return () => state.n;
}

/**
 * @param {'postgres' | 'mysql'} engine
 * @param {'rds-iam' | 'wrapper' | 'floor'} name
 * @param {Target} target
 * @param {{ max: number }} options pool size (rds-iam and floor; the wrapper uses a client each time)
 */
export function createVariant(engine, name, target, options) {
  const make = variants[engine]?.[name];
  if (!make) throw new Error(`unknown variant ${engine}/${name}`);
  return make(target, options);
}
