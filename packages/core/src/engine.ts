import { RdsIamError } from './errors.js';

/**
 * Loads the code of one engine of an integration (`@rds-iam/pg` with `pg`, `@rds-iam/mysql2` with
 * `mysql2`) when the application first connects with that engine, so that an application that uses
 * PostgreSQL neither loads nor needs installed a MySQL driver, and the reverse. `load` holds a literal
 * `require()`, which bundlers see and carry into a bundle.
 *
 * @param driver the driver package the engine needs, named in the message when it is missing.
 * @param integration the integration asking, for the message (`'@rds-iam/knex'`).
 * @throws {RdsIamError} `ERR_INVALID_OPTION` naming the package to install when `driver` is missing.
 *
 * @example
 * ```ts
 * const { pgIamSetup } = loadEngine(
 *   () => require('@rds-iam/pg') as typeof import('@rds-iam/pg'),
 *   'pg',
 *   '@rds-iam/knex',
 * );
 * ```
 */
export function loadEngine<T>(load: () => T, driver: string, integration: string): T {
  try {
    return load();
  } catch (err) {
    const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
    const text = typeof message === 'string' ? message : '';
    // The driver itself or one of its files (`mysql2/promise`), not another package whose name
    // starts with the same letters (`pg-native`).
    const missing =
      code === 'MODULE_NOT_FOUND' &&
      (text.startsWith(`Cannot find module '${driver}'`) ||
        text.startsWith(`Cannot find module '${driver}/`));
    if (!missing) throw err;
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: ${integration} needs the '${driver}' driver for this connection, and it is not installed. Install it next to ${integration}: npm install ${driver}`,
      { cause: err },
    );
  }
}

/**
 * Refuses `NODE_PG_FORCE_NATIVE` for a library that builds its PostgreSQL clients from
 * `require('pg')` (knex, MikroORM): the variable makes that pg-native, which cannot call a password
 * function (it would send the function's source text as the password) and ignores `ssl`.
 *
 * @param whose what would use pg-native, for the message (`"knex's 'pg' client"`).
 * @throws {RdsIamError} `ERR_CONFLICTING_OPTIONS` while the variable is set.
 *
 * @example
 * ```ts
 * refuseForcedPgNative("knex's 'pg' client");
 * ```
 */
export function refuseForcedPgNative(whose: string): void {
  if (!process.env.NODE_PG_FORCE_NATIVE) return;
  throw new RdsIamError(
    'ERR_CONFLICTING_OPTIONS',
    `rds-iam: NODE_PG_FORCE_NATIVE is set, so ${whose} would use pg-native, which cannot call a password function (it would send the function's text) and ignores the \`ssl\` options. Unset NODE_PG_FORCE_NATIVE for this process: rds-iam then uses the pure-JavaScript pg client, pg-native installed or not.`,
  );
}
