/**
 * What knex (and MikroORM 6, which runs on knex) logs when a pooled connection ends under it: one
 * `Connection Error: ...` warning per connection, in each driver's words. Tests that end sessions on
 * purpose (the soak's kills, the e2e pool churn) expect exactly these.
 */
const CONNECTION_LOST = [
  // node-postgres
  /^Connection Error: (Error: )?Connection ended unexpectedly$/,
  // mysql2
  /^Connection Error: Error: Connection lost: The server closed the connection\.$/,
  // the mariadb connector
  /^Connection Error: SqlError: \(conn:\d+, no: 45009, SQLState: 08S01\) socket has unexpectedly been closed$/,
];

/** A log sink for knex's `log` option: see {@link connectionLossLog}. */
export interface ConnectionLossLog {
  /** Pass as knex's `log` (MikroORM 6: `driverOptions: { log }`): warnings are kept, not printed. */
  readonly log: { warn(message: unknown): void };
  /** Every warning kept so far. */
  readonly warnings: readonly string[];
  /** The warnings that are not a connection ending under the pool: a test expects none. */
  unexpected(): string[];
}

/**
 * Keeps a library's warnings out of the test output where sessions end on purpose, so that what a
 * test expects is asserted rather than printed, and anything else is still caught.
 *
 * @example
 * ```ts
 * const knexLog = connectionLossLog();
 * const db = knex({ client: 'pg', connection, log: knexLog.log });
 * // ... kill sessions ...
 * expect(knexLog.unexpected()).toEqual([]);
 * ```
 */
export function connectionLossLog(): ConnectionLossLog {
  const warnings: string[] = [];
  return {
    log: {
      warn: (message) => {
        warnings.push(String(message));
      },
    },
    warnings,
    unexpected: () => warnings.filter((w) => !CONNECTION_LOST.some((p) => p.test(w))),
  };
}
