/**
 * `@rds-iam/proxy`: a local IAM proxy for Amazon RDS, Aurora and RDS Proxy (PostgreSQL, MySQL,
 * MariaDB). Tools that cannot mint a token (psql, pg_dump, mysqldump, Prisma's schema engine, GUIs)
 * log in to it with a plain local login; it logs in upstream with a fresh IAM token over verified
 * TLS and relays the session.
 *
 * @example
 * ```ts
 * import { startLocalProxy } from '@rds-iam/proxy';
 * const proxy = await startLocalProxy({ engine: 'postgres', host: 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com', user: 'app', listen: { port: 6543 } });
 * // psql "postgres://app@127.0.0.1:6543/shop"
 * await proxy.close();
 * ```
 * @packageDocumentation
 */
export { LATENCY_BUCKETS, type ProxyCounters } from './counters.js';
export { formatLogEntry, type ProxyLogEntry, type ProxyRefusalReason } from './log.js';
export { type HealthServer, prometheusMetrics, startHealthServer } from './metrics.js';
export {
  type LocalProxyOptions,
  type ProxyEngine,
  type ProxyListen,
  resolveProxyOptions,
} from './options.js';
export { type LocalProxy, startLocalProxy } from './proxy.js';
