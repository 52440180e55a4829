import { credentialStorm } from './driver-credential-storm.js';
import { mysql2Driver } from './driver-support.js';

// @rds-iam/mysql2: 200 new connections on a cold cache, credentials from the SDK's default chain (a
// loopback container-credentials endpoint). Its own file: the chain is memoized per process.
credentialStorm(mysql2Driver);
