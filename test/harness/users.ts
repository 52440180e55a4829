import { withAdmin } from './admin.js';
import { harnessContext, registerCleanup, requireDatabase } from './context.js';
import type { Engine } from './discovery.js';
import { uniqueName } from './names.js';
import { dropNames, quoteMy, quotePg, UPSTREAM_PASSWORD } from './objects.js';

export interface IamUserOptions {
  /** Also create a database of the same name that the user owns (MySQL: has all privileges on). */
  readonly database?: boolean;
  /**
   * `false`: a user RDS takes no token from (PostgreSQL: no `GRANT rds_iam`; MySQL: a password of its
   * own), which the emulator refuses as RDS does. Default true: an IAM user, as the seed creates it.
   */
  readonly iam?: boolean;
}

/** A throwaway database user, as RDS would have one with IAM authentication enabled. */
export interface IamUser {
  readonly engine: Engine;
  readonly user: string;
  /**
   * The user's own database with `{ database: true }`; else PostgreSQL: the server's default database
   * (anyone may connect), MySQL: undefined (connect without a default database).
   */
  readonly database: string | undefined;
  /** Ends the user's sessions and drops the user and its database. Idempotent. */
  drop(): Promise<void>;
}

/**
 * Creates a unique login user upstream as the seed creates an IAM user (and optionally a database it
 * owns), dropped again by `drop()` or, at the latest, after the test file. PostgreSQL: `CREATE USER`,
 * `GRANT rds_iam`. MySQL / MariaDB: RDS's `IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'`
 * exists on RDS only; locally the user gets the server's own plugin and no password, which is how
 * the emulator tells an IAM user (it logs in upstream without one).
 *
 * @example
 * ```ts
 * const { user, database } = await createIamUser('postgres', { database: true });
 * ```
 */
export async function createIamUser(
  engine: Engine,
  options: IamUserOptions = {},
): Promise<IamUser> {
  const target = requireDatabase(engine);
  const user = uniqueName(harnessContext().runId);
  let database: string | undefined = engine === 'postgres' ? target.database : undefined;
  // PGlite runs every session in its one database, so a database of the user's own would be a lie.
  const ownDatabase = options.database === true && target.enforcesLoginUser;
  const unregister = registerCleanup(`${engine} user ${user}`, () => dropNames(target, [user]));
  const iam = options.iam !== false;
  await withAdmin(target, async (query) => {
    if (engine === 'postgres') {
      // RDS has the rds_iam role; a local server has none until it is given one (test files run in
      // parallel: a concurrent CREATE of it is fine).
      await query(
        `DO $$BEGIN CREATE ROLE rds_iam NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END$$`,
      );
      // The password is only for the emulator's login upstream; on RDS the grant makes a token the
      // only way in.
      await query(`CREATE USER ${quotePg(user)} PASSWORD '${UPSTREAM_PASSWORD}'`);
      if (iam) await query(`GRANT rds_iam TO ${quotePg(user)}`);
      if (ownDatabase) {
        await query(`CREATE DATABASE ${quotePg(user)} OWNER ${quotePg(user)}`);
        database = user;
      }
      return;
    }
    for (const host of ['%', 'localhost']) {
      await query(
        iam
          ? `CREATE USER '${user}'@'${host}'`
          : `CREATE USER '${user}'@'${host}' IDENTIFIED BY '${UPSTREAM_PASSWORD}'`,
      );
    }
    if (ownDatabase) {
      await query(`CREATE DATABASE ${quoteMy(user)}`);
      for (const host of ['%', 'localhost']) {
        await query(`GRANT ALL PRIVILEGES ON ${quoteMy(user)}.* TO '${user}'@'${host}'`);
      }
      database = user;
    }
  });
  let dropped: Promise<void> | undefined;
  return {
    engine,
    user,
    database,
    drop() {
      dropped ??= dropNames(target, [user]).then(unregister);
      return dropped;
    },
  };
}
