import { credentialFault } from './driver-credential-fault.js';
import { pgDriver } from './driver-support.js';

// @rds-iam/pg: a hung, failing, then slow container credentials endpoint under a real pool. Its own
// file: the default chain is memoized per process.
credentialFault(pgDriver);
