export { adminQuery, type Row, withAdmin } from './admin.js';
export { type ClockFollower, type TestClock, testClock } from './clock.js';
export { type ConnectionLossLog, connectionLossLog } from './connection-loss-log.js';
export {
  cleanupHarness,
  databaseFor,
  harnessContext,
  hasDatabase,
  pendingCleanups,
  registerCleanup,
  requireDatabase,
} from './context.js';
export {
  containerImage,
  type DatabaseSource,
  type DatabaseTarget,
  DEFAULT_LOCAL,
  type Discovery,
  type DiscoveryOptions,
  discoverDatabases,
  ENGINES,
  type Engine,
  HarnessError,
  type SkippedSuite,
  startPglite,
} from './discovery.js';
export {
  driverError,
  type LoginOptions,
  loginAndQuery,
  mysqlConnect,
  type Password,
  pgConnect,
  type SessionInfo,
} from './drivers.js';
export {
  DEFAULT_ENDPOINT_HOST,
  type IamEndpoint,
  type IamEndpointOptions,
  startIamEndpoint,
  upstreamAuth,
} from './endpoint.js';
export { exampleEnv } from './example-env.js';
export {
  type HarnessContext,
  NAME_PATTERN,
  NAME_PREFIX,
  newRunId,
  runStartOf,
  uniqueName,
} from './names.js';
export {
  dropNames,
  type HarnessObjects,
  listHarnessObjects,
  UPSTREAM_PASSWORD,
} from './objects.js';
export { createIamUser, type IamUser, type IamUserOptions } from './users.js';
