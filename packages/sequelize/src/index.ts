import {
  type IamConnectionOptions,
  type IamOrmOptions,
  isAuthRejection,
  isTlsRequiredRefusal,
  isTlsVerifyError,
  loadEngine,
  MARIADB_CONNECT_TIMEOUT_MS,
  mariadbIamSetup,
  RdsIamError,
  replicaSigning,
  splitIamOptions,
  withoutPassword,
} from '@rds-iam/core';
import type { Mysql2IamOptions } from '@rds-iam/mysql2';
import type { PgIamOptions } from '@rds-iam/pg';
import type { Options, ReplicationOptions, Sequelize } from 'sequelize';

/** rds-iam's options, next to Sequelize's own. */
export type IamOptions = IamOrmOptions;

/**
 * One endpoint of `replication`: Sequelize's, without a password (each login signs its own token),
 * plus the signing endpoint and TLS of that endpoint when they differ from the top-level ones. An
 * endpoint with a `host` of its own signs for that host, not for the top-level `signingHost`.
 */
export type IamReplicaOptions = Omit<ReplicationOptions['write'], 'password'> &
  Pick<IamOptions, 'signingHost' | 'signingPort' | 'ssl' | 'password'>;

/**
 * Options of {@link iamSequelizeOptions}: Sequelize's (`dialect` `'postgres'` or `'mysql'`, `host`,
 * `port`, `username`, `database`, `pool`, `dialectOptions`, `replication`, ...) plus rds-iam's.
 * A `password` is refused (`''` or `null` count as none): the token is the password.
 */
export interface IamSequelizeOptions
  extends Omit<Options, 'password' | 'dialect' | 'replication' | 'ssl'>,
    IamOptions {
  /** `'mariadb'` uses the mariadb connector (Sequelize's own choice for that dialect). */
  dialect: 'postgres' | 'mysql' | 'mariadb';
  /** Read replicas and the writer; every endpoint gets tokens signed for its own host. */
  replication?: { read: IamReplicaOptions[]; write: IamReplicaOptions };
}

/** The Sequelize options {@link iamSequelizeOptions} returns, for `new Sequelize(options)`. */
export type IamSequelizeResult = Options & { dialect: 'postgres' | 'mysql' | 'mariadb' };

/** Opens one connection to an endpoint, retrying a rejected login once with a fresh token. */
type Connect = <T>(open: () => Promise<T>) => Promise<T>;

/** What Sequelize's connection manager is to rds-iam: the one place it opens a connection. */
interface ConnectionManager {
  connect(config: EndpointConfig): Promise<unknown>;
}

/** The per-endpoint config Sequelize hands its dialect's `connect` (the writer, a replica, or the one). */
interface EndpointConfig {
  host?: string;
  port?: number | string;
  username?: string;
}

/** Marks a connection manager whose `connect` already goes through the connectors. */
const RETRYING = Symbol('rds-iam.retryingConnect');

type Endpoint = {
  host?: string;
  port?: number;
  username?: string;
  signingHost?: string;
  signingPort?: number;
  ssl?: IamOptions['ssl'];
} & Record<string, unknown>;

/**
 * Options for `new Sequelize(options)` that log in with IAM auth tokens. Every new physical
 * connection of Sequelize's pool gets a token through the driver's own hook (node-postgres's password
 * function, mysql2's `mysql_clear_password` plugin), so nothing goes stale in months of uptime and
 * the pool is never recreated. A login the server rejects is retried once with a fresh token (a
 * `beforeConnect` hook routes Sequelize's connect through rds-iam), so a revoked token costs no
 * failed query. With `replication`, every replica and the writer sign for their own host. TLS is
 * verified against the RDS CAs unless you pass `ssl`.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import { Sequelize } from 'sequelize';
 * import { iamSequelizeOptions } from '@rds-iam/sequelize';
 *
 * const sequelize = new Sequelize(
 *   iamSequelizeOptions({
 *     dialect: 'postgres',
 *     host: 'mydb.abc123.us-east-1.rds.amazonaws.com',
 *     username: 'app',
 *     database: 'app',
 *   }),
 * );
 * ```
 */
export function iamSequelizeOptions(options: IamSequelizeOptions): IamSequelizeResult {
  if (options === null || typeof options !== 'object') {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: iamSequelizeOptions() takes an options object.',
    );
  }
  const given = withoutPassword(options) as IamSequelizeOptions & Record<string, unknown>;
  const { dialect } = given;
  if (dialect !== 'postgres' && dialect !== 'mysql' && dialect !== 'mariadb') {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: iamSequelizeOptions() supports dialect 'postgres', 'mysql' and 'mariadb', got '${String(dialect)}'. Set \`dialect\` to one of them.`,
    );
  }
  if (given.native === true || (dialect === 'postgres' && process.env.NODE_PG_FORCE_NATIVE)) {
    throw new RdsIamError(
      'ERR_CONFLICTING_OPTIONS',
      "rds-iam: pg-native (Sequelize's `native: true`, or NODE_PG_FORCE_NATIVE) cannot call a password function (it would send the function's text) and ignores the `ssl` options. Remove `native` / unset NODE_PG_FORCE_NATIVE: Sequelize then uses the pure-JavaScript pg client.",
    );
  }
  if (given.url !== undefined || given.uri !== undefined) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: pass `host`, `port`, `username` and `database` rather than a URL.',
    );
  }
  const { iam, rest } = splitIamOptions(given);
  const { ssl, replication, hooks, dialectOptions, ...sequelize } = rest as typeof rest & {
    ssl?: IamOptions['ssl'];
    replication?: { read?: unknown; write?: unknown };
    hooks?: Options['hooks'];
    dialectOptions?: Record<string, unknown>;
  };
  const { host, port, username } = sequelize as Endpoint;
  const main: Endpoint = { host, port, username, ssl };
  const connectors = new Map<string, Connect>();
  /** One endpoint's Sequelize settings, with its own connector (its own signing host). */
  const endpoint = (entry: Endpoint, base: Endpoint): Endpoint => {
    const {
      host = base.host,
      port = base.port,
      username = base.username,
      signingHost,
      signingPort,
      ssl: tls = base.ssl,
      dialectOptions: own,
      ...other
    } = withoutPassword(entry, { where: 'a `replication` endpoint' }) as Endpoint & {
      dialectOptions?: Record<string, unknown>;
    };
    if (!username) {
      throw new RdsIamError(
        'ERR_INVALID_USER',
        'rds-iam: `username` is missing. Set `username` to the database user that has IAM authentication enabled.',
      );
    }
    const merged = { ...dialectOptions, ...own };
    const target = {
      ...iam,
      ...replicaSigning(
        iam,
        { signingHost, signingPort },
        entry !== base && entry.host !== undefined,
      ),
      host,
      port,
      user: username,
      ssl: tls,
    };
    if (dialect === 'postgres') {
      // Loaded for the dialect in use only: a PostgreSQL app needs no MySQL driver, and the reverse.
      const { pgIamSetup } = loadEngine(
        () => require('@rds-iam/pg') as typeof import('@rds-iam/pg'),
        'pg',
        '@rds-iam/sequelize',
      );
      const { config, connector } = pgIamSetup(target as PgIamOptions);
      connectors.set(keyOf(config), connector.connect);
      return {
        ...other,
        host: config.host,
        port: config.port,
        username: config.user,
        password: config.password,
        // Sequelize passes `dialectOptions.ssl` on to pg's Client.
        dialectOptions: { ...merged, ssl: config.ssl },
      };
    }
    if (dialect === 'mariadb') {
      if (merged.debug === true || merged.debugCompress === true) {
        throw new RdsIamError(
          'ERR_CONFLICTING_OPTIONS',
          'rds-iam: `dialectOptions.debug` / `debugCompress` make the mariadb connector dump every packet, including the one that carries the IAM token. Remove them.',
        );
      }
      // The mariadb connector has no password hook: its per-connection `stream` option is where
      // rds-iam gives each new connection its token (see `mariadbIamStream` in @rds-iam/core).
      const { settings, connect } = mariadbIamSetup(target as IamConnectionOptions);
      connectors.set(keyOf(settings), connect);
      return {
        ...other,
        host: settings.host,
        port: settings.port,
        username: settings.user,
        // Sequelize spreads `dialectOptions` into the mariadb connector's connection options.
        dialectOptions: {
          connectTimeout: MARIADB_CONNECT_TIMEOUT_MS,
          ...merged,
          ssl: settings.ssl,
          stream: settings.stream,
        },
      };
    }
    const { mysql2IamSetup } = loadEngine(
      () => require('@rds-iam/mysql2') as typeof import('@rds-iam/mysql2'),
      'mysql2',
      '@rds-iam/sequelize',
    );
    const { config, connector } = mysql2IamSetup(target as Mysql2IamOptions);
    connectors.set(keyOf(config), connector.connect);
    const plugins = (merged.authPlugins ?? {}) as Record<string, unknown>;
    return {
      ...other,
      host: config.host,
      port: config.port,
      username: config.user,
      // Sequelize spreads `dialectOptions` into mysql2's connection options.
      dialectOptions: {
        ...merged,
        authPlugins: { ...plugins, ...config.authPlugins },
        ...(config.ssl ? { ssl: config.ssl } : {}),
      },
    };
  };
  const top = endpoint(main, main);
  let iamReplication: Options['replication'];
  if (replication !== undefined) {
    const { read, write } = replication;
    if (!Array.isArray(read) || write === null || typeof write !== 'object') {
      throw new RdsIamError(
        'ERR_INVALID_OPTION',
        'rds-iam: `replication` has no `read` array or no `write` endpoint. Pass it as `{ read: [endpoint, ...], write: endpoint }` (an endpoint may be `{}`: the top-level one).',
      );
    }
    iamReplication = {
      write: endpoint(write as Endpoint, main) as ReplicationOptions['write'],
      read: read.map((r) => endpoint(r as Endpoint, main)) as ReplicationOptions['read'],
    };
  }
  const own = hooks?.beforeConnect;
  type BeforeConnect = NonNullable<NonNullable<Options['hooks']>['beforeConnect']>;
  const beforeConnect = function (this: Sequelize, config) {
    routeThroughConnectors(this, connectors);
    return own?.call(this, config);
  } as BeforeConnect;
  return {
    ...sequelize,
    ...top,
    dialect,
    ...(iamReplication ? { replication: iamReplication } : {}),
    hooks: {
      ...hooks,
      beforeConnect,
    },
  } as IamSequelizeResult;
}

function keyOf(config: { user: string; host: string; port: number }): string {
  return `${config.user}@${config.host}:${config.port}`;
}

/**
 * Sequelize runs `beforeConnect` as a method of the Sequelize instance, right before its connection
 * manager's `connect` (the one place it opens a physical connection): the first call routes that
 * `connect` through the connector of the endpoint being dialled, which retries a rejected login once
 * with a fresh token and turns TLS failures into an `RdsIamError`.
 */
function routeThroughConnectors(sequelize: Sequelize, connectors: Map<string, Connect>): void {
  const manager = (sequelize as unknown as { connectionManager?: ConnectionManager })
    .connectionManager as (ConnectionManager & { [RETRYING]?: true }) | undefined;
  if (!manager || manager[RETRYING] || typeof manager.connect !== 'function') return;
  const open = manager.connect;
  const fallback = connectors.values().next().value as Connect;
  manager.connect = function (this: unknown, config: EndpointConfig) {
    const key = `${config.username}@${config.host}:${Number(config.port)}`;
    const connect = connectors.get(key) ?? fallback;
    return connect(async () => {
      try {
        return await open.call(this, config);
      } catch (err) {
        // Sequelize wraps the driver's error (ConnectionError, AccessDeniedError) in `parent`: the
        // connector decides on the driver's own error; anything else stays Sequelize's.
        const driver = (err as { parent?: unknown } | null)?.parent;
        if (isAuthRejection(driver) || isTlsVerifyError(driver) || isTlsRequiredRefusal(driver)) {
          throw driver;
        }
        throw err;
      }
    });
  };
  manager[RETRYING] = true;
}
