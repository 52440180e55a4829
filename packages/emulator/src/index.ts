/**
 * `@rds-iam/emulator`: a local Amazon RDS IAM endpoint. A PostgreSQL / MySQL proxy on loopback
 * that verifies IAM auth tokens exactly as RDS does, then relays to a real database.
 *
 * @example
 * ```ts
 * import { startEmulator } from '@rds-iam/emulator';
 * const emulator = await startEmulator({ engine: 'postgres', upstream: 'postgres://127.0.0.1:5432' });
 * console.log(emulator.endpoint, emulator.caPem);
 * await emulator.stop();
 * ```
 * @packageDocumentation
 */
export {
  type CertificateAuthority,
  type CertificateAuthorityOptions,
  type CertificateAuthorityPem,
  createCertificateAuthority,
} from './certificate.js';
export { policyLines, readyJson } from './command.js';
export type { RejectReason, UpstreamTarget, VerifyResult } from './context.js';
export { startEmulator } from './emulator.js';
export {
  EMULATOR_FLAGS,
  EMULATOR_FLAGS_HELP,
  type EmulatorFlagValues,
  EmulatorUsageError,
  formatLogin,
  type ResolvedEmulatorFlags,
  redactUpstream,
  resolveEmulatorFlags,
} from './flags.js';
export { type EmulatorIamOptions, emulatorIamOptions } from './iam-options.js';
export {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_RESOURCE_ID,
  type Emulator,
  type EmulatorCounters,
  type EmulatorEngine,
  type EmulatorLogin,
  type EmulatorOptions,
  type UpstreamOptions,
} from './options.js';
export {
  EMPTY_PAYLOAD_SHA256,
  type PresignParams,
  presignAuthToken,
  UNSIGNED_PAYLOAD,
} from './sigv4.js';
export { parseUpstream } from './upstream.js';
export { checkUpstream, formatWarning } from './upstream-check.js';
export {
  createVerifier,
  DEMO_CREDENTIALS,
  type EmulatorCredentials,
  type EmulatorPrincipal,
  type EndpointAddress,
  MAX_CLOCK_SKEW_MS,
  MAX_TOKEN_LIFETIME_S,
  type Verifier,
  type VerifierOptions,
} from './verify.js';
