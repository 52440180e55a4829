import { redact } from './redact.js';

/**
 * Every way rds-iam can fail, as a stable string you can switch on. Codes are never renamed; new ones
 * may be added.
 */
export type RdsIamErrorCode =
  /** `host` is missing, empty, carries a scheme or a path, or is not a hostname. */
  | 'ERR_INVALID_HOST'
  /** `port` / `signingPort` is not an integer from 1 to 65535. */
  | 'ERR_INVALID_PORT'
  /** `user` is missing or empty. */
  | 'ERR_INVALID_USER'
  /** An option has the wrong type or an impossible value (the message names it). */
  | 'ERR_INVALID_OPTION'
  /** Two options contradict each other (for example a password next to IAM). */
  | 'ERR_CONFLICTING_OPTIONS'
  /**
   * A callback was given to a promise API that would never call it (mysql2's promise pool from
   * `createPool()`): the message names the callback API to use instead.
   */
  | 'ERR_CALLBACK_NOT_SUPPORTED'
  /** No signing region: not an RDS hostname and none configured. */
  | 'ERR_REGION_NOT_FOUND'
  /** The AWS credentials could not be resolved, or expire too soon to sign a usable token. */
  | 'ERR_CREDENTIALS'
  /**
   * The credential source did not answer within `credentialsTimeoutMs` (a hung container agent,
   * metadata endpoint, SSO or STS). The message names the source and the time waited.
   */
  | 'ERR_CREDENTIALS_TIMEOUT'
  /** Signing the token failed. */
  | 'ERR_SIGNING'
  /** A string given as a token is not an RDS IAM auth token. */
  | 'ERR_INVALID_TOKEN'
  /** TLS was turned off towards a host that is not loopback, or the connection is not encrypted. */
  | 'ERR_TLS_REQUIRED'
  /** The server's certificate did not verify (unknown CA, wrong hostname, expired). */
  | 'ERR_TLS_VERIFY'
  /** The database server rejected the token, also after one retry with a fresh token. */
  | 'ERR_AUTH_REJECTED'
  /** The provider was closed. */
  | 'ERR_CLOSED'
  /** An IAM policy document given as text is not JSON. */
  | 'ERR_POLICY_NOT_JSON'
  /** An IAM policy document has no `Statement` (or an empty one). */
  | 'ERR_POLICY_NO_STATEMENT'
  /** An IAM policy document is malformed: unknown `Effect`, wrong types, `Action` and `NotAction` together (the message names it). */
  | 'ERR_POLICY_INVALID'
  /** An IAM policy document has an element IAM does not know (`"Condtion"`, a key next to `Statement`). */
  | 'ERR_POLICY_UNKNOWN_ELEMENT'
  /** An `Action` / `NotAction` entry is neither `*` nor `vendor:action` (`rds-db:connect`). */
  | 'ERR_POLICY_ACTION'
  /** A `Resource` / `NotResource` entry is neither `*` nor an ARN. */
  | 'ERR_POLICY_RESOURCE'
  /** A `Sid` has characters other than A-Z, a-z and 0-9, or repeats another statement's. */
  | 'ERR_POLICY_SID'
  /** A `Condition` names an operator IAM does not have (`StringEqual`, `NullIfExists`). */
  | 'ERR_POLICY_CONDITION_OPERATOR'
  /** A `Condition` value does not fit its operator: a date, number, boolean, IP range or base64 text. */
  | 'ERR_POLICY_CONDITION_VALUE'
  /** A request context key or value given for an evaluation is malformed (`--context`, `principal`). */
  | 'ERR_POLICY_CONTEXT';

/** Options of {@link RdsIamError}. */
export interface RdsIamErrorOptions {
  /** The error that caused this one. It is kept with its token text redacted. */
  cause?: unknown;
}

/**
 * The one error type rds-iam throws. `code` is stable; `message` says what failed and what to do. Neither
 * the message, the stack nor the `cause` ever contains token text: all three are passed through
 * {@link redact}.
 *
 * @example
 * ```ts
 * try {
 *   await provider.getToken();
 * } catch (err) {
 *   if (err instanceof RdsIamError && err.code === 'ERR_CREDENTIALS') alertOnCall(err.message);
 *   throw err;
 * }
 * ```
 */
export class RdsIamError extends Error {
  readonly code: RdsIamErrorCode;

  constructor(code: RdsIamErrorCode, message: string, options: RdsIamErrorOptions = {}) {
    super(
      redact(message),
      'cause' in options ? { cause: sanitizeCause(options.cause) } : undefined,
    );
    this.name = 'RdsIamError';
    this.code = code;
    if (this.stack) this.stack = redact(this.stack);
  }
}

Object.defineProperty(RdsIamError.prototype, Symbol.toStringTag, { value: 'RdsIamError' });

/**
 * A copy of `cause` safe to keep: same class name, `code`, message and stack, with token text redacted
 * (a driver's error may quote the password it was given).
 */
function sanitizeCause(cause: unknown, depth = 0): unknown {
  if (!(cause instanceof Error)) {
    return typeof cause === 'string' ? redact(cause) : cause;
  }
  if (cause instanceof RdsIamError) return cause;
  const copy = new Error(
    redact(cause.message),
    cause.cause !== undefined && depth < 4
      ? { cause: sanitizeCause(cause.cause, depth + 1) }
      : undefined,
  );
  copy.name = cause.name;
  copy.stack = cause.stack === undefined ? undefined : redact(cause.stack);
  const { code, errno, sqlState } = cause as Error & Record<string, unknown>;
  Object.assign(copy, code === undefined ? {} : { code }, errno === undefined ? {} : { errno });
  if (sqlState !== undefined) Object.assign(copy, { sqlState });
  return copy;
}

/** A one-line description of an unknown thrown value, redacted, for error messages. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return redact(`${err.name}${typeof code === 'string' ? ` ${code}` : ''}: ${err.message}`);
  }
  return redact(String(err));
}
