/**
 * `@rds-iam/wire`: the PostgreSQL and MySQL / MariaDB wire protocols up to authentication, one
 * implementation shared by the rds-iam emulator, the local IAM proxy and `rds-iam doctor`'s probes:
 * framing, start-up and TLS negotiation, the login exchanges, refusals in RDS's words, and the byte
 * relay that follows a login.
 *
 * @example
 * ```ts
 * import { FrameReader, loginPostgres } from '@rds-iam/wire';
 * const outcome = await loginPostgres(new FrameReader(socket, 1 << 20), (b) => socket.write(b), {
 *   params: new Map([['user', 'app']]),
 *   password: () => 'secret',
 * });
 * ```
 * @packageDocumentation
 */
export { ConnectTimeoutError, connectWithin } from './connect.js';
export {
  bytes,
  FrameReader,
  FrameReaderError,
  type FrameReaderFailure,
  type Framing,
} from './frames.js';
export {
  acceptMysqlHandshake,
  type MysqlAcceptOptions,
  MysqlRefusal,
  MysqlServerSide,
} from './mysql/accept.js';
export {
  buildGreeting,
  buildHandshakeResponse,
  type Greeting,
  type HandshakeResponse,
  parseGreeting,
  parseHandshakeResponse,
  type SslRequest,
  sslRequest,
} from './mysql/handshake.js';
export {
  authDataFor,
  loginMysql,
  type MysqlLoginOptions,
  type MysqlLoginOutcome,
  MysqlProtocolError,
} from './mysql/login.js';
export {
  type AuthSwitch,
  authSwitchRequest,
  Capability,
  Cursor,
  type ErrPacket,
  errPacket,
  frame,
  lenencInt,
  MAX_PAYLOAD,
  MalformedPacketError,
  MariaDbCapability,
  type MysqlPacket,
  PacketReader,
  PacketReaderError,
  packetFraming,
  parseAuthSwitch,
  parseErrPacket,
} from './mysql/packets.js';
export {
  accessDenied,
  authModeNotSupported,
  badHandshake,
  CR_CONN_HOST_ERROR,
  CR_SERVER_LOST,
  clientHostOf,
  ER_ACCESS_DENIED,
  ER_HANDSHAKE_ERROR,
  ER_NET_PACKETS_OUT_OF_ORDER,
  ER_NOT_SUPPORTED_AUTH_MODE,
  ER_SECURE_TRANSPORT_REQUIRED,
  ER_UNKNOWN_ERROR,
  isAccessDenied,
  packetsOutOfOrder,
  secureTransportRequired,
} from './mysql/refusals.js';
export {
  RELAYED_CAPABILITIES,
  RELAYED_MARIADB_CAPABILITIES,
  REQUIRED_CAPABILITIES,
  readGreeting,
  relayedGreeting,
  relayedResponse,
  UnfitGreetingError,
  type UpstreamGreeting,
} from './mysql/relayed.js';
export {
  cachingSha2Auth,
  cachingSha2FullAuth,
  nativePasswordAuth,
  scramble,
} from './mysql/scramble.js';
export {
  loginPostgres,
  type PostgresLoginOptions,
  type PostgresLoginOutcome,
  type PostgresPasswordMethod,
} from './postgres/login.js';
export {
  AuthCode,
  authRequest,
  CANCEL_REQUEST_CODE,
  cstr,
  errorResponse,
  GSSENC_REQUEST_CODE,
  int32,
  message,
  messageFraming,
  negotiateProtocolVersion,
  type PostgresMessage,
  PostgresProtocolError,
  PROTOCOL_3_0,
  parseFields,
  parseStartupParams,
  passwordMessage,
  queryMessage,
  readMessage,
  SSL_REQUEST,
  SSL_REQUEST_CODE,
  startupFraming,
  startupMessage,
  TERMINATE,
  TLS_HANDSHAKE_RECORD,
} from './postgres/messages.js';
export { type SimpleQueryResult, simpleQuery } from './postgres/query.js';
export {
  noEncryption,
  noUserName,
  pamAuthenticationFailed,
  passwordAuthenticationFailed,
  unsupportedProtocol,
} from './postgres/refusals.js';
export { md5Password, ScramClient } from './postgres/scram.js';
export { sendSslRequest } from './postgres/ssl-request.js';
export {
  acceptPostgresStartup,
  type PostgresStartup,
  type PostgresStartupOptions,
  type PostgresStartupRequest,
} from './postgres/startup.js';
export { relay } from './relay.js';
export { LoginEnded, LoginSession } from './session.js';
export { type AcceptOptions, upgradeClientTls, upgradeServerTls } from './tls.js';
