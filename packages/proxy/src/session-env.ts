import type { IamConnector } from '@rds-iam/core';
import type { LoginSession } from '@rds-iam/wire';
import type { ProxyRefusalReason } from './log.js';
import type { ResolvedProxyOptions } from './options.js';
import type { UpstreamContext } from './upstream.js';

/**
 * What a session handler (postgres-session.ts, mysql-session.ts) gets from the proxy: its client
 * connection, the proxy's options and connector, and the calls that count and log what happens.
 */
export interface SessionEnv {
  readonly session: LoginSession;
  readonly options: ResolvedProxyOptions;
  readonly connector: IamConnector;
  readonly upstream: UpstreamContext;
  /** Counts and logs a client refused before its session started. */
  refuse(reason: ProxyRefusalReason, message: string): void;
  /** Counts and logs a session logged in upstream (timed from the last {@link upstreamPhase}). */
  loggedIn(clientUser: string): void;
  /**
   * The upstream login starts: the client's timer gives way to `connectTimeoutMs`; when that runs
   * out, the client gets `lastWords(message)` and the refusal is logged as upstream-unreachable.
   */
  upstreamPhase(lastWords: (message: string) => Buffer): void;
  /** Back to waiting for the client (MySQL: after upstream's greeting): `handshakeTimeoutMs`. */
  clientPhase(): void;
}
