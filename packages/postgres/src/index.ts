export { iamPostgresOptions, type PostgresIamConfig, type PostgresIamOptions } from './options.js';
