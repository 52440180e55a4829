import { RdsIamError } from './errors.js';

/**
 * What a `password` option may hold next to IAM: nothing. `''` and `null` count as nothing, because
 * that is how configuration schemas and environment files (convict, dotenv, `config`) spell an unset
 * password, and applications spread such a config into the connection options.
 */
export type AbsentPassword = '' | null | undefined;

/**
 * `options` without its password options (`password`, or `keys`) when they hold an absent password
 * (`undefined`, `''` or `null`), so the driver never sees them. Any other value is refused: with IAM
 * the password is a fresh token for every connection.
 *
 * @param where names the options in the message when they are not the top-level ones
 *   (`'a \`replication\` endpoint'`).
 * @throws {RdsIamError} `ERR_CONFLICTING_OPTIONS` for a password that is set.
 *
 * @example
 * ```ts
 * const settings = withoutPassword({ host, user: 'app', password: process.env.DB_PASSWORD ?? '' });
 * // { host, user: 'app' } when DB_PASSWORD is unset or empty; throws when it holds a password
 * ```
 */
export function withoutPassword<T extends object>(
  options: T,
  { keys = ['password'], where }: { keys?: readonly string[]; where?: string } = {},
): Omit<T, 'password'> {
  let copy: Record<string, unknown> | undefined;
  for (const key of keys) {
    if (!(key in options)) continue;
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined && value !== null && value !== '') {
      // `DB_PASSWORD=null` in an env file is the text 'null', not null.
      const text =
        value === 'null' || value === 'undefined'
          ? ` It is the text '${value}', as an env file spells it: leave the variable empty instead.`
          : '';
      throw new RdsIamError(
        'ERR_CONFLICTING_OPTIONS',
        `rds-iam: ${where ? `${where} has a \`${key}\`` : `\`${key}\` was given`}, but with IAM the password is a fresh token for every connection. Remove \`${key}\` (an empty string or null is taken as none).${text}`,
      );
    }
    const rest: Record<string, unknown> = copy ?? { ...(options as Record<string, unknown>) };
    delete rest[key];
    copy = rest;
  }
  return (copy ?? options) as Omit<T, 'password'>;
}
