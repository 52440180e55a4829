import { redact } from '@rds-iam/core';

/**
 * Why the proxy refused or dropped a local client. Stable strings: logs, metrics and tests key on
 * them.
 * @example
 * ```ts
 * const reason: ProxyRefusalReason = 'token-rejected';
 * ```
 */
export type ProxyRefusalReason =
  /** The client did not finish its own login in time, or sent what is not the protocol. */
  | 'bad-handshake'
  /** The client's local password was wrong. */
  | 'local-password'
  /** No IAM token could be minted (credentials, region, signing; a hung credential source). */
  | 'credentials'
  /** The upstream server could not be reached, or did not answer in time. */
  | 'upstream-unreachable'
  /** The upstream server's TLS certificate did not verify, or it offers no TLS. */
  | 'upstream-tls'
  /** RDS rejected the token twice (a fresh one the second time): the user or the IAM policy. */
  | 'token-rejected'
  /** Upstream refused the session after authentication (no such database, too many connections). */
  | 'upstream-refused'
  /** The proxy is stopping and takes no new sessions. */
  | 'stopping';

/**
 * One log entry: what happened, to which target, for which client. Never a token (messages pass
 * through core's `redact`).
 * @example
 * ```ts
 * startLocalProxy({ ...options, onLog: (e) => console.error(formatLogEntry(e)) });
 * ```
 */
export interface ProxyLogEntry {
  /** ISO time. */
  readonly time: string;
  readonly level: 'info' | 'warn' | 'error';
  readonly event: 'listening' | 'login' | 'refused' | 'closed' | 'stopping' | 'stopped';
  /** The upstream target: `user@host:port`. */
  readonly target: string;
  /** The client's address (`unix` for a Unix socket). */
  readonly client?: string;
  readonly reason?: ProxyRefusalReason;
  /** Milliseconds the upstream login took (login), or the session lasted (closed). */
  readonly ms?: number;
  /** Bytes from and to the client over the session (closed). */
  readonly bytesIn?: number;
  readonly bytesOut?: number;
  readonly message: string;
}

/**
 * A log entry as one line: JSON with `json`, else `TIME LEVEL target: message`.
 * @example
 * ```ts
 * process.stderr.write(`${formatLogEntry(entry, true)}\n`);
 * ```
 */
export function formatLogEntry(entry: ProxyLogEntry, json = false): string {
  if (json) return JSON.stringify(entry);
  return `${entry.time} ${entry.level.padEnd(5)} ${entry.target}: ${entry.message}`;
}

/** Builds an entry, with the message redacted of anything that looks like a token. */
export function logEntry(
  fields: Omit<ProxyLogEntry, 'time' | 'message'> & { readonly message: string },
): ProxyLogEntry {
  return { time: new Date().toISOString(), ...fields, message: redact(fields.message) };
}
