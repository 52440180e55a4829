export {
  type DriverClass,
  type IamMikroOrmOptions,
  type IamOptions,
  type IamReplicaOptions,
  iamMikroOrmOptions,
} from './options.js';
