import type { Dictionary } from '@mikro-orm/core';
import {
  type IamConnectionOptions,
  loadEngine,
  MARIADB_CONNECT_TIMEOUT_MS,
  mariadbIamSetup,
  RdsIamError,
  refuseForcedPgNative,
} from '@rds-iam/core';
import type { Mysql2IamOptions } from '@rds-iam/mysql2';
import type { PgIamOptions } from '@rds-iam/pg';

/**
 * The library a MikroORM driver logs in with: node-postgres, mysql2 (MySqlDriver, and MikroORM 7's
 * MariaDbDriver, which extends it), or the mariadb connector (MikroORM 6's MariaDbDriver).
 */
export type Library = 'pg' | 'mysql2' | 'mariadb';

/** One endpoint (the primary or a replica): where it is, and how its connections log in. */
export interface EndpointSettings {
  host: string;
  port: number;
  user: string;
  /** What goes into each new connection's driver settings: the login hook and TLS. */
  login: Dictionary;
  /**
   * A bound on each new connection, under your settings: MikroORM 7's pool settings (under your
   * `driverOptions`), or MikroORM 6's knex connection settings.
   */
  poolDefaults: Dictionary;
  /** The library, so that a MikroORM major that would use it otherwise is refused. */
  library: Library;
  /** Opens one connection, retrying a rejected login once with a fresh token. */
  connect<T>(open: () => Promise<T>): Promise<T>;
}

/**
 * The library of a MikroORM driver class, from its name and its parents' (a subclass keeps them).
 * MikroORM 7's MariaDbDriver extends MySqlDriver and connects with mysql2; MikroORM 6's extends the
 * SQL driver directly and connects with the mariadb connector.
 */
export function libraryOf(driver: unknown): Library {
  const names: string[] = [];
  for (
    let c = driver as { name?: unknown } | null;
    typeof c === 'function';
    c = Object.getPrototypeOf(c)
  ) {
    names.push(String(c.name));
  }
  if (names.some((name) => /^PostgreSql/.test(name))) return 'pg';
  if (names.some((name) => /^MySql/.test(name))) return 'mysql2';
  if (names.some((name) => /^MariaDb/.test(name))) return 'mariadb';
  throw new RdsIamError(
    'ERR_INVALID_OPTION',
    "rds-iam: iamMikroOrmOptions() needs to know the database driver. Pass `driver`: PostgreSqlDriver from '@mikro-orm/postgresql', MySqlDriver from '@mikro-orm/mysql' or MariaDbDriver from '@mikro-orm/mariadb'.",
  );
}

/** The settings of one endpoint, validated (bad options throw here, before any network call). */
export function endpointSettings(library: Library, target: Dictionary): EndpointSettings {
  if (library === 'pg') {
    // MikroORM builds its pg clients from `require('pg')` (6, through knex) or pg's `Pool` (7).
    refuseForcedPgNative("MikroORM's pg connections");
    // Loaded for the engine in use only: a PostgreSQL app needs no MySQL driver, and the reverse.
    const { pgIamSetup } = loadEngine(
      () => require('@rds-iam/pg') as typeof import('@rds-iam/pg'),
      'pg',
      '@rds-iam/mikro-orm',
    );
    const { config, connector } = pgIamSetup(target as PgIamOptions);
    const { host, port, user, password, ssl, connectionTimeoutMillis } = config;
    return {
      host,
      port,
      user,
      login: { password, ssl },
      poolDefaults: { connectionTimeoutMillis },
      library,
      connect: connector.connect,
    };
  }
  if (library === 'mariadb') {
    const { settings, connect } = mariadbIamSetup(target as IamConnectionOptions);
    const { host, port, user, ssl, stream } = settings;
    return {
      host,
      port,
      user,
      login: { ssl, stream },
      // MikroORM 6 only (7's MariaDbDriver runs on mysql2): under knex's connection settings.
      poolDefaults: { connectTimeout: MARIADB_CONNECT_TIMEOUT_MS },
      library,
      connect,
    };
  }
  const { mysql2IamSetup } = loadEngine(
    () => require('@rds-iam/mysql2') as typeof import('@rds-iam/mysql2'),
    'mysql2',
    '@rds-iam/mikro-orm',
  );
  const { config, connector } = mysql2IamSetup(target as Mysql2IamOptions);
  const { host, port, user, authPlugins, ssl } = config;
  return {
    host,
    port,
    user,
    login: { authPlugins, ...(ssl ? { ssl } : {}) },
    poolDefaults: {},
    library,
    connect: connector.connect,
  };
}

/** The key an endpoint and a MikroORM connection's options are matched by. */
export function keyOf(endpoint: { user?: string; host?: string; port?: number }): string {
  return `${endpoint.user}@${endpoint.host}:${Number(endpoint.port)}`;
}
