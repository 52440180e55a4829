export {
  type PgIamOptions,
  type PgIamPoolConfig,
  pgIamConfig,
  pureJsClient,
} from './config.js';
export { parseConnectionString } from './connection-string.js';
export { createClient, createPool, IamPool } from './pool.js';
