import { credentialRotation } from './driver-credential-rotation.js';
import { mysql2Driver } from './driver-support.js';

// @rds-iam/mysql2: keys rotated behind the container endpoint, the old ones refused. Its own file:
// the default chain is memoized per process.
credentialRotation(mysql2Driver);
