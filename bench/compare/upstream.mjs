// How many more connections the real server behind the emulator can take right now.
import mysql from 'mysql2/promise';
import pg from 'pg';

/**
 * @param {'postgres' | 'mysql'} engine
 * @param {{ host: string, port: number, user: string, database: string }} up
 */
export async function freeUpstreamSlots(engine, up) {
  try {
    if (engine === 'postgres') {
      const client = new pg.Client({
        host: up.host,
        port: up.port,
        user: up.user,
        database: up.database,
        connectionTimeoutMillis: 5000,
      });
      await client.connect();
      try {
        const { rows } = await client.query(
          `SELECT current_setting('max_connections')::int AS max,
                  (SELECT count(*)::int FROM pg_stat_activity) AS used,
                  current_setting('server_version') AS version`,
        );
        const { max, used, version } = rows[0];
        return { reachable: true, max, free: max - used, version: `PostgreSQL ${version}` };
      } finally {
        await client.end();
      }
    }
    const connection = await mysql.createConnection({
      host: up.host,
      port: up.port,
      user: up.user,
      connectTimeout: 5000,
    });
    try {
      const [rows] = await connection.query(
        `SELECT @@max_connections AS max,
                (SELECT COUNT(*) FROM information_schema.processlist) AS used,
                VERSION() AS version`,
      );
      const { max, used, version } = rows[0];
      return {
        reachable: true,
        max: Number(max),
        free: Number(max) - Number(used),
        version: String(version),
      };
    } finally {
      await connection.end();
    }
  } catch (err) {
    return { reachable: false, error: err?.message ?? String(err) };
  }
}
