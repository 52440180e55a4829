export {
  type Mysql2IamOptions,
  type Mysql2IamPoolOptions,
  mysql2IamConfig,
  mysql2IamSetup,
} from './config.js';
export { createCallbackPool, type Mysql2IamDriver, mysql2IamDriver } from './driver.js';
export { createConnection, createPool } from './pool.js';
