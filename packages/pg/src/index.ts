export {
  DEFAULT_CONNECTION_TIMEOUT_MS,
  type PgIamOptions,
  type PgIamPoolConfig,
  pgIamConfig,
  pgIamSetup,
  pureJsClient,
} from './config.js';
export { parseConnectionString } from './connection-string.js';
export { type PgIamDriver, type PoolConnectCallback, pgIamDriver } from './driver.js';
export { createClient, createPool, IamPool } from './pool.js';
