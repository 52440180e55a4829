import type { ConnectionOptions, Dictionary, IDatabaseDriver, Options } from '@mikro-orm/core';
import {
  type IamOrmOptions,
  RdsIamError,
  replicaSigning,
  splitIamOptions,
  withoutPassword,
} from '@rds-iam/core';
import { type DriverClass, iamDriver } from './driver.js';
import { type EndpointSettings, endpointSettings, keyOf, libraryOf } from './endpoint.js';

/** rds-iam's options, next to MikroORM's own. */
export type IamOptions = IamOrmOptions;

export type { DriverClass };

/**
 * One read replica: MikroORM's connection options without a password, plus the signing endpoint and
 * TLS of that replica when they differ from the top-level ones. A replica with a `host` of its own
 * signs for that host, not for the top-level `signingHost`.
 */
export type IamReplicaOptions = Omit<ConnectionOptions, 'password' | 'clientUrl'> &
  Pick<IamOptions, 'signingHost' | 'signingPort' | 'ssl' | 'password'>;

/**
 * Options of {@link iamMikroOrmOptions}: MikroORM's (`driver`, `host`, `port`, `user`, `dbName`,
 * `entities`, `pool`, `replicas`, `driverOptions`, ...) plus rds-iam's. `clientUrl` is refused (the
 * endpoint is given as `host` / `port` / `user`) and so is a `password`: the token is the password
 * (`''` or `null` count as none).
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

type Endpoint = IamReplicaOptions & Dictionary;

/** `driverOptions` keys rds-iam sets on every connection: yours would be overwritten. */
const LOGIN_KEYS = ['password', 'ssl', 'authPlugins', 'stream'];

/**
 * Options for `MikroORM.init(...)` that log in with IAM auth tokens, for MikroORM 6 and 7 alike with
 * the PostgreSQL, MySQL and MariaDB drivers. Every new physical connection of the primary and of each
 * read replica gets a token signed for its own host, through the driver's own hook (node-postgres's
 * password function, mysql2's `mysql_clear_password` plugin, and under MikroORM 6's MariaDbDriver the
 * mariadb connector's per-connection `stream`), and TLS verified against the RDS CAs unless you pass
 * `ssl`. The `driver` you pass is extended: each of its connections adds that hook and TLS to the
 * settings MikroORM computed (its type handling, pool and `getNativeClient()` stay as they are) and
 * opens connections through rds-iam, which retries a rejected login once with a fresh token. Which
 * MikroORM is installed is found from the driver's connections.
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
  const library = libraryOf(given.driver);
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
  checkDriverOptions(mikro.driverOptions, '');
  const endpoints = new Map<string, EndpointSettings>();
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
    if (entry !== base) checkDriverOptions(other.driverOptions, 'a replica’s ');
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
    const settings = endpointSettings(library, target);
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

/**
 * `driverOptions` must be pool settings, as an object: MikroORM 7 takes a function, a Kysely dialect
 * or a Kysely instance as the client itself, and MikroORM 6 a knex client in `context.client`, and
 * no connection made by those would log in with a token.
 */
function checkDriverOptions(driverOptions: unknown, whose: string): void {
  if (driverOptions === undefined) return;
  const plain =
    typeof driverOptions === 'object' &&
    driverOptions !== null &&
    [Object.prototype, null].includes(Object.getPrototypeOf(driverOptions));
  const client = (driverOptions as { context?: { client?: unknown } } | null)?.context?.client;
  if (!plain || client !== undefined) {
    throw new RdsIamError(
      'ERR_CONFLICTING_OPTIONS',
      `rds-iam: ${whose}\`driverOptions\` is a client of its own (a function, a Kysely dialect or instance, a knex client), whose connections would not log in with a token. Pass pool settings there as a plain object, and let MikroORM build its pool.`,
    );
  }
  const taken = LOGIN_KEYS.filter((key) => (driverOptions as Dictionary)[key] !== undefined);
  if (taken.length > 0) {
    throw new RdsIamError(
      'ERR_CONFLICTING_OPTIONS',
      `rds-iam: ${whose}\`driverOptions\` sets ${taken.map((k) => `\`${k}\``).join(', ')}, which rds-iam sets for every connection (the token and TLS): remove it from \`driverOptions\`, and pass TLS settings as \`ssl\` next to \`host\`.`,
    );
  }
}
