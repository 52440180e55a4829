import type { EventEmitter } from 'node:events';
import {
  type ClosableSocket,
  createIamConnector,
  type IamConnectionOptions,
  type IamConnector,
  mergeDatabaseUrl,
  RdsIamError,
  splitIamOptions,
  withoutPassword,
} from '@rds-iam/core';
import type { AuthPlugin, PoolOptions } from 'mysql2';

/**
 * Options of {@link mysql2IamConfig}, {@link createPool} and {@link createConnection}: mysql2's own
 * options (passed through untouched) plus rds-iam's. A `password` (`''` or `null` count as none) and
 * `authPlugins.mysql_clear_password` are not accepted: the token is the password and rds-iam sends it.
 */
export interface Mysql2IamOptions
  extends Omit<PoolOptions, 'password' | 'ssl' | 'host' | 'port' | 'user' | 'uri'>,
    Omit<IamConnectionOptions, 'engine' | 'host' | 'user'> {
  /** The endpoint dialled. Required, here or in `uri`. */
  host?: string;
  /** The database user with IAM enabled. Required, here or in `uri`. */
  user?: string;
  /**
   * A `mysql://user@host:port/db` URL, parsed by rds-iam and merged under the explicit options. A
   * password in it is refused.
   */
  uri?: string;
}

/** mysql2 options ready for `createPool()` / `createConnection()`. */
export type Mysql2IamPoolOptions = PoolOptions & {
  host: string;
  port: number;
  user: string;
  authPlugins: { mysql_clear_password: AuthPlugin };
};

/**
 * mysql2 stamps `code = 'AUTH_SWITCH_PLUGIN_ERROR'` on whatever an auth plugin throws. An RdsIamError
 * keeps its own stable code: writes to `code` are ignored (a setter, so mysql2's strict-mode
 * assignment does not throw).
 */
function keepCode(err: unknown): unknown {
  if (err instanceof RdsIamError) {
    const { code } = err;
    Object.defineProperty(err, 'code', {
      get: () => code,
      set: () => {},
      enumerable: true,
      configurable: true,
    });
  }
  return err;
}

/**
 * {@link mysql2IamConfig}'s options together with the connector behind them, for integrations that
 * own the pool (knex, TypeORM): `connector.connect(open)` retries a rejected login once with a fresh
 * token, and `connector.close()` lets go of the token cache.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * const { config, connector } = mysql2IamSetup({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'app' });
 * const connection = await connector.connect(() => mysql.createConnection(config));
 * ```
 */
export function mysql2IamSetup(options: Mysql2IamOptions): {
  config: Mysql2IamPoolOptions;
  connector: IamConnector;
} {
  if (options === null || typeof options !== 'object') {
    throw new RdsIamError('ERR_INVALID_OPTION', 'rds-iam: options must be an object.');
  }
  const { uri, ...explicit } = withoutPassword(options);
  const merged = mergeDatabaseUrl(explicit, uri, {
    option: 'uri',
    protocols: ['mysql'],
  });
  const { iam, rest } = splitIamOptions(merged);
  const { ssl, authPlugins, ...driver } = rest as typeof rest & {
    ssl?: IamConnectionOptions['ssl'];
    authPlugins?: Record<string, AuthPlugin>;
  };
  const connector = createIamConnector(
    { ...iam, host: merged.host as string, port: merged.port, user: merged.user as string, ssl },
    'mysql',
  );
  // RDS switches IAM users to the cleartext plugin. mysql2 >= 3.22 refuses it unless a plugin is
  // given, and never checks that the connection is encrypted: this plugin does, then sends the token.
  const mysql_clear_password: AuthPlugin =
    ({ connection, command }) =>
    async () => {
      let token: string;
      const { stream } = connection as unknown as { stream?: ClosableSocket };
      try {
        connector.tls.assertSecure(stream);
        token = await connector.password(stream);
      } catch (err) {
        throw keepCode(err);
      }
      // The handshake command reports the server's answer: a rejection drops this token, whoever owns
      // the pool (knex, TypeORM), so the next attempt mints.
      (command as unknown as Partial<EventEmitter>).once?.('error', (err: unknown) =>
        connector.loginFailed(token, err),
      );
      return Buffer.from(`${token}\0`);
    };
  const config: Mysql2IamPoolOptions = {
    ...driver,
    host: connector.host,
    port: connector.port,
    user: connector.user,
    authPlugins: { ...authPlugins, mysql_clear_password },
  };
  if (connector.tls.ssl) {
    // mysql2 would check the name against `host`; the plugin checks it against the signing host
    // before the token is sent, which also covers tunnels and aliases.
    config.ssl = { ...connector.tls.ssl, verifyIdentity: false } as PoolOptions['ssl'];
  }
  return { config, connector };
}

/**
 * mysql2 options that log in with IAM: an async `mysql_clear_password` plugin that sends a fresh
 * token for each new physical connection once the connection is verified TLS, and TLS verified
 * against the RDS CAs. You do not need `enableCleartextPlugin`.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import mysql from 'mysql2/promise';
 * import { mysql2IamConfig } from '@rds-iam/mysql2';
 *
 * const pool = mysql.createPool(
 *   mysql2IamConfig({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'app', database: 'app' }),
 * );
 * ```
 */
export function mysql2IamConfig(options: Mysql2IamOptions): Mysql2IamPoolOptions {
  return mysql2IamSetup(options).config;
}
