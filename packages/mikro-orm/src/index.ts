import type {
  Configuration,
  ConnectionOptions,
  Dictionary,
  IDatabaseDriver,
  Options,
} from '@mikro-orm/core';
import {
  type IamConnectionOptions,
  type IamOrmOptions,
  loadEngine,
  mariadbIamSetup,
  RdsIamError,
  replicaSigning,
  splitIamOptions,
  withoutPassword,
} from '@rds-iam/core';
import type { Mysql2IamOptions } from '@rds-iam/mysql2';
import type { PgIamOptions } from '@rds-iam/pg';

/** rds-iam's options, next to MikroORM's own. */
export type IamOptions = IamOrmOptions;

/** A MikroORM driver class: `PostgreSqlDriver`, `MySqlDriver` or `MariaDbDriver`. */
export type DriverClass<D extends IDatabaseDriver> = new (config: Configuration) => D;

/**
 * One read replica: MikroORM's connection options without a password, plus the signing endpoint and
 * TLS of that replica when they differ from the top-level ones. A replica with a `host` of its own
 * signs for that host, not for the top-level `signingHost`.
 */
export type IamReplicaOptions = Omit<ConnectionOptions, 'password' | 'clientUrl'> &
  Pick<IamOptions, 'signingHost' | 'signingPort' | 'ssl' | 'password'>;

/**
 * Options of {@link iamMikroOrmOptions}: MikroORM's (`driver`, `host`, `port`, `user`, `dbName`,
 * `entities`, `pool`, `replicas`, ...) plus rds-iam's. `clientUrl` is refused (the endpoint is given
 * as `host` / `port` / `user`) and so is a `password`: the token is the password (`''` or `null`
 * count as none).
 */
export type IamMikroOrmOptions<D extends IDatabaseDriver> = Omit<
  Options<D>,
  'password' | 'clientUrl' | 'driver' | 'replicas'
> &
  IamOptions & {
    /** `PostgreSqlDriver` (`@mikro-orm/postgresql`), `MySqlDriver` or `MariaDbDriver`. */
    driver: DriverClass<D>;
    replicas?: IamReplicaOptions[];
  };

type Engine = 'postgres' | 'mysql' | 'mariadb';

/** What rds-iam uses of a MikroORM SQL connection (MikroORM 6's `AbstractSqlConnection`). */
interface SqlConnection {
  options: { host?: string; port?: number; user?: string };
  getKnexOptions(type: unknown): { connection: Dictionary };
  createKnexClient(type: unknown): { client: KnexClient };
}

interface KnexClient {
  acquireRawConnection(): Promise<unknown>;
}

type Endpoint = IamReplicaOptions & Dictionary;

/**
 * Options for `MikroORM.init(...)` that log in with IAM auth tokens, for MikroORM 6 with the
 * PostgreSQL, MySQL and MariaDB drivers (all three open their connections through knex, with pg,
 * mysql2 and the mariadb connector). Every new physical connection gets a token through the driver's
 * own hook (node-postgres's password function, mysql2's `mysql_clear_password` plugin, the mariadb
 * connector's per-connection `stream`). The `driver` you pass is extended: each of its connections
 * adds that hook and TLS to the knex settings after MikroORM computed its own (type parsers, time
 * zone stay as they are), and opens connections through rds-iam, which retries a rejected login once
 * with a fresh token. Each read replica signs for its own host. TLS is verified against the RDS CAs
 * unless you pass `ssl`.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import { MikroORM } from '@mikro-orm/core';
 * import { PostgreSqlDriver } from '@mikro-orm/postgresql';
 * import { iamMikroOrmOptions } from '@rds-iam/mikro-orm';
 *
 * const orm = await MikroORM.init(
 *   iamMikroOrmOptions({
 *     driver: PostgreSqlDriver,
 *     host: 'mydb.abc123.us-east-1.rds.amazonaws.com',
 *     user: 'app',
 *     dbName: 'app',
 *     entities: [Note],
 *   }),
 * );
 * ```
 */
export function iamMikroOrmOptions<D extends IDatabaseDriver>(
  options: IamMikroOrmOptions<D>,
): Options<D> {
  if (options === null || typeof options !== 'object') {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: iamMikroOrmOptions() takes an options object.',
    );
  }
  const given = withoutPassword(options) as IamMikroOrmOptions<D> & Dictionary;
  if (given.clientUrl !== undefined) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: pass `host`, `port`, `user` and `dbName` rather than `clientUrl`.',
    );
  }
  const engine = engineOf(given.driver);
  const { iam, rest } = splitIamOptions(given);
  const { driver, ssl, replicas, ...mikro } = rest as typeof rest & {
    driver: DriverClass<D>;
    ssl?: IamOptions['ssl'];
    replicas?: unknown;
  };
  if (replicas !== undefined && !Array.isArray(replicas)) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: `replicas` is not an array. Pass it as an array of connection options (`host`, `port`, `user`, ...).',
    );
  }
  const endpoints = new Map<string, DriverSettings>();
  const main: Endpoint = { host: mikro.host, port: mikro.port, user: mikro.user, ssl };
  /** One endpoint's settings, with a connector of its own (its own signing host). */
  const endpoint = (entry: Endpoint, base: Endpoint): Endpoint => {
    const {
      host = base.host,
      port = base.port,
      user = base.user,
      signingHost,
      signingPort,
      ssl: tls = base.ssl,
      ...other
    } = withoutPassword(entry, { where: 'a replica' });
    if (!user) {
      throw new RdsIamError(
        'ERR_INVALID_USER',
        'rds-iam: `user` is missing. Set `user` to the database user that has IAM authentication enabled.',
      );
    }
    const target = {
      ...iam,
      ...replicaSigning(
        iam,
        { signingHost, signingPort },
        entry !== base && entry.host !== undefined,
      ),
      host,
      port,
      user,
      ssl: tls,
    };
    const settings = driverSettings(engine, target);
    endpoints.set(keyOf(settings), settings);
    return { ...other, host: settings.host, port: settings.port, user: settings.user };
  };
  const top = endpoint(main, main);
  const iamReplicas = (replicas as Endpoint[] | undefined)?.map((r) => endpoint(r, main));
  return {
    ...mikro,
    ...top,
    ...(iamReplicas ? { replicas: iamReplicas } : {}),
    driver: iamDriver(driver, endpoints),
  } as Options<D>;
}

/** The engine of a MikroORM driver class, from its name or its parents' (a subclass keeps them). */
function engineOf(driver: unknown): Engine {
  for (
    let c = driver as { name?: unknown } | null;
    typeof c === 'function';
    c = Object.getPrototypeOf(c)
  ) {
    const name = String(c.name);
    if (/^PostgreSql/.test(name)) return 'postgres';
    if (/^MySql/.test(name)) return 'mysql';
    // MikroORM's MariaDB driver opens its connections with the mariadb connector, not mysql2.
    if (/^MariaDb/.test(name)) return 'mariadb';
  }
  throw new RdsIamError(
    'ERR_INVALID_OPTION',
    "rds-iam: iamMikroOrmOptions() needs to know the database driver. Pass `driver`: PostgreSqlDriver from '@mikro-orm/postgresql', MySqlDriver from '@mikro-orm/mysql' or MariaDbDriver from '@mikro-orm/mariadb'.",
  );
}

interface DriverSettings {
  host: string;
  port: number;
  user: string;
  /** What goes into knex's connection settings: the login hook and TLS. */
  connection: Dictionary;
  /** Opens one connection, retrying a rejected login once with a fresh token. */
  connect<T>(open: () => Promise<T>): Promise<T>;
}

function driverSettings(engine: Engine, target: Dictionary): DriverSettings {
  if (engine === 'postgres') {
    // knex builds pg clients from `require('pg').Client`, which NODE_PG_FORCE_NATIVE makes pg-native:
    // that would send the password function's source text and ignore `ssl`.
    if (process.env.NODE_PG_FORCE_NATIVE) {
      throw new RdsIamError(
        'ERR_CONFLICTING_OPTIONS',
        "rds-iam: NODE_PG_FORCE_NATIVE is set, so MikroORM's knex would use pg-native, which cannot call a password function (it would send the function's text) and ignores the `ssl` options. Unset NODE_PG_FORCE_NATIVE for this process.",
      );
    }
    // Loaded for the engine in use only: a PostgreSQL app needs no MySQL driver, and the reverse.
    const { pgIamSetup } = loadEngine(
      () => require('@rds-iam/pg') as typeof import('@rds-iam/pg'),
      'pg',
      '@rds-iam/mikro-orm',
    );
    const { config, connector } = pgIamSetup(target as PgIamOptions);
    const { host, port, user, password, ssl } = config;
    return { host, port, user, connection: { password, ssl }, connect: connector.connect };
  }
  if (engine === 'mariadb') {
    const { settings, connect } = mariadbIamSetup(target as IamConnectionOptions);
    const { host, port, user, ssl, stream } = settings;
    return { host, port, user, connection: { ssl, stream }, connect };
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
    connection: { authPlugins, ...(ssl ? { ssl } : {}) },
    connect: connector.connect,
  };
}

function keyOf(endpoint: { user?: string; host?: string; port?: number }): string {
  return `${endpoint.user}@${endpoint.host}:${Number(endpoint.port)}`;
}

/**
 * `driver`, extended: each of its connections (the main one and every replica) gets the login hook
 * and TLS of its endpoint in the settings MikroORM hands knex (added after MikroORM computed its own,
 * which treats a password function as a provider it calls once), and its knex client's
 * `acquireRawConnection` (the one place knex opens a physical connection) runs through the
 * endpoint's connector, which retries a rejected login once with a fresh token and turns a failed
 * certificate check into an `RdsIamError`.
 */
function iamDriver<D extends IDatabaseDriver>(
  driver: DriverClass<D>,
  endpoints: Map<string, DriverSettings>,
): DriverClass<D> {
  const main = endpoints.values().next().value as DriverSettings;
  const IamDriver = class extends (driver as new (config: Configuration) => object) {
    constructor(config: Configuration) {
      super(config);
      const self = this as { connection?: SqlConnection; replicas?: SqlConnection[] };
      for (const connection of [self.connection, ...(self.replicas ?? [])]) {
        if (typeof connection?.createKnexClient !== 'function') {
          // MikroORM 7 replaced knex with its own Kysely-based layer: without this hook no token
          // would go in, so refuse rather than log in without one.
          throw new RdsIamError(
            'ERR_INVALID_OPTION',
            `rds-iam: this MikroORM driver (${driver.name}) does not open its connections through knex, as MikroORM 6 does; @rds-iam/mikro-orm supports MikroORM 6. Use MikroORM 6, or give MikroORM 7 a pool from @rds-iam/pg / @rds-iam/mysql2 where its driver accepts one.`,
          );
        }
        routeThroughIam(connection, endpoints.get(keyOf(connection.options)) ?? main);
      }
    }
  };
  // MikroORM and its CLI name the driver in messages; keep the user's driver's name.
  Object.defineProperty(IamDriver, 'name', { value: driver.name });
  return IamDriver as unknown as DriverClass<D>;
}

function routeThroughIam(connection: SqlConnection, endpoint: DriverSettings): void {
  const options = connection.getKnexOptions;
  connection.getKnexOptions = function (this: SqlConnection, type: unknown) {
    const config = options.call(this, type);
    config.connection = { ...config.connection, ...endpoint.connection };
    return config;
  };
  const create = connection.createKnexClient;
  connection.createKnexClient = function (this: SqlConnection, type: unknown) {
    const knex = create.call(this, type);
    const acquire = knex.client.acquireRawConnection;
    knex.client.acquireRawConnection = function (this: unknown) {
      return endpoint.connect(() => acquire.call(this));
    };
    return knex;
  };
}
