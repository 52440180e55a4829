import { credentialRotation } from './driver-credential-rotation.js';
import { pgDriver } from './driver-support.js';

// @rds-iam/pg: keys rotated behind the container endpoint, the old ones refused. Its own file: the
// default chain is memoized per process.
credentialRotation(pgDriver);
