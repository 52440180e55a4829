import { withAdmin } from './admin.js';
import type { DatabaseTarget } from './discovery.js';

/**
 * The upstream password of every harness user. Only the emulator uses it, to log in to the real
 * server after a token checked out (servers with trust auth never ask). Clients present IAM tokens.
 */
export const UPSTREAM_PASSWORD = 'rds-iam-e2e-upstream';

/** What the harness created that is still on a server. */
export interface HarnessObjects {
  readonly users: string[];
  readonly databases: string[];
}

export const quotePg = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const quoteMy = (name: string): string => `\`${name.replace(/`/g, '``')}\``;
const LIKE_PREFIX = 'rdsiam\\_e2e\\_%';

/** Lists users and databases named like the harness's (`rdsiam_e2e_...`) on a server. */
export function listHarnessObjects(target: DatabaseTarget): Promise<HarnessObjects> {
  return withAdmin(target, async (query) => {
    if (target.engine === 'postgres') {
      const roles = await query('SELECT rolname AS name FROM pg_roles WHERE rolname LIKE $1', [
        LIKE_PREFIX,
      ]);
      const dbs = await query('SELECT datname AS name FROM pg_database WHERE datname LIKE $1', [
        LIKE_PREFIX,
      ]);
      return { users: names(roles), databases: names(dbs) };
    }
    const users = await query('SELECT DISTINCT User AS name FROM mysql.user WHERE User LIKE ?', [
      LIKE_PREFIX,
    ]);
    const dbs = await query(
      'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?',
      [LIKE_PREFIX],
    );
    return { users: names(users), databases: names(dbs) };
  });
}

function names(rows: Record<string, unknown>[]): string[] {
  return rows.map((r) => String(r.name)).sort();
}

/**
 * Ends the sessions of, and drops, the databases and users with these names (a harness user and its
 * database share one name). Missing ones are fine.
 */
export function dropNames(target: DatabaseTarget, list: readonly string[]): Promise<void> {
  if (list.length === 0) return Promise.resolve();
  return withAdmin(target, async (query) => {
    for (const name of list) {
      if (target.engine === 'postgres') {
        if (target.enforcesLoginUser) {
          await query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE (usename = $1 OR datname = $1) AND pid <> pg_backend_pid()',
            [name],
          );
          await query(`DROP DATABASE IF EXISTS ${quotePg(name)} WITH (FORCE)`);
        }
        await query(`DROP ROLE IF EXISTS ${quotePg(name)}`);
        continue;
      }
      const sessions = await query(
        'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()',
        [name],
      );
      for (const s of sessions) {
        await query(`KILL CONNECTION ${Number(s.id)}`).catch(() => undefined);
      }
      await query(`DROP DATABASE IF EXISTS ${quoteMy(name)}`);
      await query(`DROP USER IF EXISTS '${name}'@'%', '${name}'@'localhost'`);
    }
  });
}
