import type { Configuration, Dictionary, IDatabaseDriver } from '@mikro-orm/core';
import { RdsIamError } from '@rds-iam/core';
import { type EndpointSettings, keyOf } from './endpoint.js';

/** A MikroORM driver class: `PostgreSqlDriver`, `MySqlDriver` or `MariaDbDriver`. */
export type DriverClass<D extends IDatabaseDriver> = new (config: Configuration) => D;

/** The options every MikroORM connection keeps: the endpoint it dials. */
interface ConnectionBase {
  options: { host?: string; port?: number; user?: string };
}

/** What rds-iam uses of MikroORM 6's SQL connection, which opens its connections through knex. */
interface KnexSqlConnection extends ConnectionBase {
  getKnexOptions(type: unknown): { connection: Dictionary };
  createKnexClient(type: unknown): { client: { acquireRawConnection(): Promise<unknown> } };
}

/** A Kysely dialect, as far as rds-iam uses it. */
interface KyselyDialect {
  createDriver(): { acquireConnection(): Promise<unknown> };
}

/**
 * What rds-iam uses of MikroORM 7's SQL connection: it builds a Kysely dialect over pg's `Pool` or
 * mysql2's pool, from its own pool settings with `overrides` (your `driverOptions`) deep-merged over
 * them.
 */
interface KyselySqlConnection extends ConnectionBase {
  createKyselyDialect(overrides: Dictionary): KyselyDialect | Promise<KyselyDialect>;
}

/**
 * `driver`, extended: each of its connections (the primary and every replica) logs in through the
 * endpoint of its own host, whichever layer the installed MikroORM opens connections with. MikroORM
 * 6: knex's connection settings get the login hook and TLS after MikroORM computed its own, and knex's
 * `acquireRawConnection` runs through the endpoint's connector. MikroORM 7: the pool settings MikroORM
 * builds its dialect from get them, and the dialect's `acquireConnection` runs through the connector.
 * Either way MikroORM's own settings (type parsers, time zone, date strings) and its pool stay, and
 * the connector retries a rejected login once with a fresh token and turns a failed certificate
 * check into an `RdsIamError`.
 */
export function iamDriver<D extends IDatabaseDriver>(
  driver: DriverClass<D>,
  endpoints: Map<string, EndpointSettings>,
): DriverClass<D> {
  const main = endpoints.values().next().value as EndpointSettings;
  const IamDriver = class extends (driver as new (config: Configuration) => object) {
    constructor(config: Configuration) {
      super(config);
      const self = this as { connection?: ConnectionBase; replicas?: ConnectionBase[] };
      for (const connection of [self.connection, ...(self.replicas ?? [])]) {
        if (!connection) continue;
        const endpoint = endpoints.get(keyOf(connection.options)) ?? main;
        if (isKnexConnection(connection)) routeKnex(connection, endpoint);
        else if (isKyselyConnection(connection) && endpoint.library !== 'mariadb')
          routeKysely(connection, endpoint);
        else {
          // No known hook: no token would go in, so refuse rather than log in without one.
          throw new RdsIamError(
            'ERR_INVALID_OPTION',
            `rds-iam: this MikroORM driver (${driver.name}) opens its connections in a way @rds-iam/mikro-orm does not know: it supports MikroORM 6 (knex) and 7 (Kysely over pg and mysql2). Use MikroORM 6 or 7, or give MikroORM a pool from @rds-iam/pg / @rds-iam/mysql2.`,
          );
        }
      }
    }
  };
  // MikroORM and its CLI name the driver in messages; keep the user's driver's name.
  Object.defineProperty(IamDriver, 'name', { value: driver.name });
  return IamDriver as unknown as DriverClass<D>;
}

function isKnexConnection(connection: ConnectionBase): connection is KnexSqlConnection {
  return typeof (connection as Partial<KnexSqlConnection>).createKnexClient === 'function';
}

function isKyselyConnection(connection: ConnectionBase): connection is KyselySqlConnection {
  return typeof (connection as Partial<KyselySqlConnection>).createKyselyDialect === 'function';
}

/**
 * MikroORM 6. Its own `password` function is not used: MikroORM hands it to knex as a connection
 * provider without an expiry check, so knex would call it once and keep that token for good.
 */
function routeKnex(connection: KnexSqlConnection, endpoint: EndpointSettings): void {
  const options = connection.getKnexOptions;
  connection.getKnexOptions = function (this: KnexSqlConnection, type: unknown) {
    const config = options.call(this, type);
    // knex's pg client takes pg's own settings, where `connectionTimeoutMillis` bounds a connection
    // as in 7; the mariadb connector's `connectTimeout` likewise.
    config.connection = { ...endpoint.poolDefaults, ...config.connection, ...endpoint.login };
    return config;
  };
  const create = connection.createKnexClient;
  connection.createKnexClient = function (this: KnexSqlConnection, type: unknown) {
    const knex = create.call(this, type);
    const acquire = knex.client.acquireRawConnection;
    knex.client.acquireRawConnection = function (this: unknown) {
      return endpoint.connect(() => acquire.call(this));
    };
    return knex;
  };
}

/**
 * MikroORM 7. The login hook and TLS go in as `driverOptions` would (MikroORM deep-merges them over its
 * own pool settings), over yours; the pool defaults under yours. Its own `password` function is not
 * used: its MySQL driver calls it only when the pool has no idle connection, before asking for one,
 * and sends the result as a cleartext password only with `enableCleartextPlugin`.
 */
function routeKysely(connection: KyselySqlConnection, endpoint: EndpointSettings): void {
  const create = connection.createKyselyDialect;
  connection.createKyselyDialect = function (this: KyselySqlConnection, overrides: Dictionary) {
    const made = create.call(this, {
      ...endpoint.poolDefaults,
      ...overrides,
      ...endpoint.login,
    });
    return made instanceof Promise
      ? made.then((dialect) => retrying(dialect, endpoint))
      : retrying(made, endpoint);
  };
}

/**
 * The dialect's driver acquires each connection through the endpoint's connector: a login the server
 * rejects is retried once with a fresh token. Only a login can be rejected, so a retried acquire
 * never ran a query the first time.
 */
function retrying(dialect: KyselyDialect, endpoint: EndpointSettings): KyselyDialect {
  const createDriver = dialect.createDriver;
  dialect.createDriver = function (this: KyselyDialect) {
    const kyselyDriver = createDriver.call(this);
    const acquire = kyselyDriver.acquireConnection;
    kyselyDriver.acquireConnection = function (this: unknown) {
      return endpoint.connect(() => acquire.call(this));
    };
    return kyselyDriver;
  };
  return dialect;
}
