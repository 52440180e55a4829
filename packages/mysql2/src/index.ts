export { type Mysql2IamOptions, type Mysql2IamPoolOptions, mysql2IamConfig } from './config.js';
export { createConnection, createPool } from './pool.js';
