import {
  type IamOrmOptions,
  loadEngine,
  parseDatabaseUrl,
  RdsIamError,
  splitIamOptions,
  withoutPassword,
} from '@rds-iam/core';
import type { DataSourceOptions } from 'typeorm';

/** TypeORM's options for `type: 'postgres'`, taken from the root export so they track its version. */
type PostgresConnectionOptions = Extract<DataSourceOptions, { type: 'postgres' }>;
/** TypeORM's options for `type: 'mysql' | 'mariadb'`. */
type MysqlConnectionOptions = Extract<DataSourceOptions, { type: 'mysql' | 'mariadb' }>;

/** rds-iam's options, next to TypeORM's own. */
export type IamOptions = IamOrmOptions;

/** Options of {@link iamDataSourceOptions} for PostgreSQL: TypeORM's plus rds-iam's. */
export type PostgresIamDataSourceOptions = Omit<PostgresConnectionOptions, 'password' | 'ssl'> &
  IamOptions;

/** Options of {@link iamDataSourceOptions} for MySQL and MariaDB: TypeORM's plus rds-iam's. */
export type MysqlIamDataSourceOptions = Omit<MysqlConnectionOptions, 'password' | 'ssl'> &
  IamOptions;

/**
 * TypeORM `DataSource` options that log in with IAM auth tokens: spread your options in, get options
 * out for `new DataSource(...)`. PostgreSQL gets a password function and the pure-JS pg driver;
 * MySQL and MariaDB get mysql2's cleartext plugin in `extra` (your own `extra` settings are kept).
 * Both get a `driver` whose pools retry a login the server rejected once, with a fresh token, so a
 * revoked or rotated token costs no failed query. TLS is verified against the RDS CAs unless you
 * pass `ssl`.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import { DataSource } from 'typeorm';
 * import { iamDataSourceOptions } from '@rds-iam/typeorm';
 *
 * const dataSource = new DataSource(
 *   iamDataSourceOptions({
 *     type: 'postgres',
 *     host: 'mydb.abc123.us-east-1.rds.amazonaws.com',
 *     username: 'app',
 *     database: 'app',
 *     entities: [User],
 *   }),
 * );
 * await dataSource.initialize();
 * ```
 */
export function iamDataSourceOptions(
  options: PostgresIamDataSourceOptions,
): PostgresConnectionOptions;
export function iamDataSourceOptions(options: MysqlIamDataSourceOptions): MysqlConnectionOptions;
export function iamDataSourceOptions(
  options: PostgresIamDataSourceOptions | MysqlIamDataSourceOptions,
): DataSourceOptions {
  if (options === null || typeof options !== 'object') {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: iamDataSourceOptions() takes an options object.',
    );
  }
  const given = withoutPassword(options);
  if ((given as { replication?: unknown }).replication !== undefined) {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: `replication` is not supported yet; create one DataSource per endpoint.',
    );
  }
  const { iam, rest: typeorm } = splitIamOptions(given as object) as {
    iam: IamOptions;
    rest: Record<string, unknown>;
  };
  const { type, url, host, port, username, ssl, extra, ...rest } = typeorm as {
    type: string;
    url?: string;
    host?: string;
    port?: number;
    username?: string;
    ssl?: IamOptions['ssl'];
    extra?: Record<string, unknown>;
  } & Record<string, unknown>;
  const fromUrl: Partial<ReturnType<typeof parseDatabaseUrl>> =
    url === undefined
      ? {}
      : parseDatabaseUrl(url, {
          option: 'url',
          protocols: type === 'postgres' ? ['postgres', 'postgresql'] : ['mysql', 'mariadb'],
        });
  let urlSsl: false | undefined;
  for (const [key, value] of fromUrl.params ?? []) {
    if (type === 'postgres' && key === 'sslmode') {
      // Every mode but `disable` means TLS, and rds-iam always verifies it fully.
      if (value === 'disable') urlSsl = false;
      continue;
    }
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: \`url\` parameter '${key}' is not supported with IAM; pass it as a DataSource option instead.`,
    );
  }
  const target = {
    host: host ?? fromUrl.host,
    port: port ?? fromUrl.port,
    user: username ?? fromUrl.user,
    database: (rest.database as string | undefined) ?? fromUrl.database,
  };
  if ((type === 'postgres' || type === 'mysql' || type === 'mariadb') && !target.user) {
    throw new RdsIamError(
      'ERR_INVALID_USER',
      'rds-iam: `username` is missing. Set `username` (or a user in `url`) to the database user that has IAM authentication enabled.',
    );
  }
  if (type === 'postgres') {
    // Loaded for the engine in use only: a PostgreSQL app needs no MySQL driver, and the reverse.
    const { pgIamDriver } = loadEngine(
      () => require('@rds-iam/pg') as typeof import('@rds-iam/pg'),
      'pg',
      '@rds-iam/typeorm',
    );
    const {
      config: { Client, password, ssl: tls, host: h, port: p, user },
      driver,
    } = pgIamDriver({ ...iam, ...target, ssl: ssl ?? urlSsl });
    return {
      ...rest,
      type: 'postgres',
      host: h,
      port: p,
      username: user,
      database: target.database,
      password,
      ssl: tls,
      // pg with a Pool that retries a rejected login once, and without pg-native.
      driver,
      // pg-pool takes its client class from the pool options, which TypeORM builds from `extra`.
      extra: { ...extra, Client },
    } as PostgresConnectionOptions;
  }
  if (type === 'mysql' || type === 'mariadb') {
    const { mysql2IamDriver } = loadEngine(
      () => require('@rds-iam/mysql2') as typeof import('@rds-iam/mysql2'),
      'mysql2',
      '@rds-iam/typeorm',
    );
    const {
      config: { authPlugins, ssl: tls, host: h, port: p, user },
      driver,
    } = mysql2IamDriver({
      ...iam,
      ...target,
      ssl,
    });
    const extraPlugins = (extra?.authPlugins ?? {}) as Record<string, unknown>;
    return {
      ...rest,
      type,
      host: h,
      port: p,
      username: user,
      database: target.database,
      ...(tls ? { ssl: tls } : {}),
      // mysql2 whose pools retry a rejected login once.
      driver,
      extra: { ...extra, authPlugins: { ...extraPlugins, ...authPlugins } },
    } as MysqlConnectionOptions;
  }
  throw new RdsIamError(
    'ERR_INVALID_OPTION',
    `rds-iam: iamDataSourceOptions() supports type 'postgres', 'mysql' and 'mariadb', got '${String(type)}'.`,
  );
}
