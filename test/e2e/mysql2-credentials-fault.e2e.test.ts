import { credentialFault } from './driver-credential-fault.js';
import { mysql2Driver } from './driver-support.js';

// @rds-iam/mysql2: a hung, failing, then slow container credentials endpoint under a real pool. Its
// own file: the default chain is memoized per process.
credentialFault(mysql2Driver);
