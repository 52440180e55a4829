export {
  type ClosableSocket,
  createIamConnector,
  IAM_OPTION_KEYS,
  type IamConnectionOptions,
  type IamConnector,
  type IamOrmOptions,
  type IamSslOption,
  type IamTls,
  type IamTlsOptions,
  iamTls,
  isTlsVerifyError,
  replicaSigning,
  splitIamOptions,
} from './connector.js';
export {
  type AwsCredentials,
  type AwsCredentialsProvider,
  maskAccessKeyId,
} from './credentials.js';
export {
  parseRdsEndpoint,
  partitionOfRegion,
  type RdsEndpoint,
  type RdsEndpointKind,
} from './endpoint.js';
export { loadEngine, refuseForcedPgNative } from './engine.js';
export {
  describeError,
  RdsIamError,
  type RdsIamErrorCode,
  type RdsIamErrorOptions,
} from './errors.js';
export type {
  TokenErrorEvent,
  TokenEvent,
  TokenEventBase,
  TokenHitEvent,
  TokenInvalidatedEvent,
  TokenMintedEvent,
  TokenRefreshFailedEvent,
} from './events.js';
export {
  MARIADB_CONNECT_TIMEOUT_MS,
  type MariaDbConnectionOptions,
  type MariaDbIamSetup,
  type MariaDbLogger,
  type MariaDbLoginListener,
  type MariaDbStream,
  type MariaDbStreamCallback,
  mariadbIamSetup,
  mariadbIamStream,
} from './mariadb.js';
export { DEFAULT_PORTS, type Engine, type TokenProviderOptions } from './options.js';
export { type AbsentPassword, withoutPassword } from './password.js';
export { createTokenProvider, type TokenInfo, type TokenProvider } from './provider.js';
export { redact } from './redact.js';
export { isAuthRejection, isTlsRequiredRefusal } from './rejection.js';
export { sharedTokenProvider } from './shared.js';
export type { SignFunction, SignRequest, SignResult } from './sign.js';
export { isLoopbackHost, rdsCaCertificates, readCaFile } from './tls.js';
export { type AuthTokenInfo, parseAuthToken } from './token.js';
export { mergeDatabaseUrl, type ParsedDatabaseUrl, parseDatabaseUrl } from './url.js';
