import {
  createIamConnector,
  type IamConnectionOptions,
  RdsIamError,
  splitIamOptions,
  withoutPassword,
} from '@rds-iam/core';
import type postgres from 'postgres';
import { iamLogins } from './login.js';
import { iamSocket } from './socket.js';

/** postgres.js's custom-type map, as `postgres<T>()` takes it. */
type Types = Record<string, postgres.PostgresType>;

/** postgres.js options rds-iam sets itself, or refuses because they would bypass the token. */
type Replaced =
  | 'pass'
  | 'password'
  | 'ssl'
  | 'host'
  | 'hostname'
  | 'port'
  | 'user'
  | 'username'
  | 'path';

/**
 * Options of {@link iamPostgresOptions}: postgres.js's own (passed through untouched) plus rds-iam's
 * (`region`, `signingHost`, `credentials`, ...). A `password` is refused (`''` or `null` count
 * as none): the token is the password.
 */
export interface PostgresIamOptions<T extends Types = Types>
  extends Omit<postgres.Options<T>, Replaced>,
    Omit<IamConnectionOptions, 'engine' | 'user'> {
  /** The database user with IAM enabled, as postgres.js names it. Required, here or as `user`. */
  username?: string;
  /** postgres.js's alias of `username`: give either, or both alike. */
  user?: string;
}

/** What {@link iamPostgresOptions} returns, for `postgres(...)`. */
export type PostgresIamConfig<T extends Types = Types> = postgres.Options<T> & {
  host: string;
  port: number;
  user: string;
  pass: () => Promise<string>;
  ssl: false;
  /** rds-iam's connection: TLS verified by rds-iam, the login watched for a rejected token. */
  socket: (options?: { connect_timeout?: number }) => Promise<unknown>;
};

const REFUSED = {
  socket: 'ERR_CONFLICTING_OPTIONS',
  hostname: 'ERR_INVALID_OPTION',
  path: 'ERR_INVALID_OPTION',
} as const;

const WHY = {
  socket: 'rds-iam opens the connection itself (to verify TLS and watch the login). Remove it.',
  hostname: 'pass the endpoint as `host`, which the token is signed for.',
  path: 'IAM logins need TLS to the RDS endpoint, which a Unix socket does not give: use `host`.',
} as const;

/**
 * Options for `postgres(options)` (postgres.js) that log in with IAM: each new connection gets a
 * fresh token from one cache per endpoint, user and AWS identity, TLS is verified against the RDS
 * CAs, and a rejected token is dropped and the login retried once.
 *
 * @throws {RdsIamError} for bad options, before any network call.
 *
 * @example
 * ```ts
 * import postgres from 'postgres';
 * import { iamPostgresOptions } from '@rds-iam/postgres';
 *
 * const sql = postgres(
 *   iamPostgresOptions({ host: 'mydb.abc123.us-east-1.rds.amazonaws.com', user: 'app', database: 'app' }),
 * );
 * const [{ now }] = await sql`SELECT now()`;
 * ```
 */
export function iamPostgresOptions<T extends Types = Types>(
  options: PostgresIamOptions<T>,
): PostgresIamConfig<T> {
  if (options === null || typeof options !== 'object') {
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      'rds-iam: options must be an object: pass `{ host, user, database, ... }`.',
    );
  }
  const given = withoutPassword(options, { keys: ['password', 'pass'] });
  for (const key of Object.keys(REFUSED) as (keyof typeof REFUSED)[]) {
    if ((given as unknown as Record<string, unknown>)[key] !== undefined) {
      throw new RdsIamError(REFUSED[key], `rds-iam: \`${key}\` was given, but ${WHY[key]}`);
    }
  }
  const { iam, rest } = splitIamOptions(given);
  const { ssl, host, port, user, username, ...driver } = rest as typeof rest &
    IamConnectionOptions & { username?: string };
  if (user !== undefined && username !== undefined && user !== username) {
    throw new RdsIamError(
      'ERR_CONFLICTING_OPTIONS',
      `rds-iam: \`user\` ('${user}') and \`username\` ('${username}') name different database users. Pass one of them (postgres.js reads \`user\` as an alias of \`username\`).`,
    );
  }
  const connector = createIamConnector(
    { ...iam, host, port, user: user ?? username, ssl },
    'postgres',
  );
  const logins = iamLogins(connector);
  return {
    ...(driver as postgres.Options<T>),
    host: connector.host,
    port: connector.port,
    user: connector.user,
    pass: logins.pass,
    ssl: false,
    socket: iamSocket(connector, logins),
  };
}
