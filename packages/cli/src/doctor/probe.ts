import type { AuthTokenInfo, Engine, RdsEndpoint } from '@rds-iam/core';
import type { ConnectionArgs } from '../args.js';
import type { ProbeResult } from '../probe/conn.js';
import type { Check } from './check.js';
import { loginCheck } from './login.js';
import { serverClockCheck } from './server-clock.js';
import { tcpCheck } from './tcp.js';
import { tlsCheck } from './tls.js';

/** What the checks of the one probe connection (tcp, tls, login, server-clock) need to know. */
export interface ProbeContext {
  engine: Engine;
  args: ConnectionArgs;
  caName: string;
  info: AuthTokenInfo | undefined;
  endpoint: RdsEndpoint | undefined;
  regionMismatch: boolean;
  tokenMinted: boolean;
  /** The authorization check, when one ran: a failed one is the first cause of a rejection. */
  authorization?: Check | undefined;
}

/** The `tcp`, `tls`, `login` and `server-clock` checks of one probe connection, in that order. */
export function probeChecks(result: ProbeResult, ctx: ProbeContext): Check[] {
  const tcp = tcpCheck(result.tcp, ctx);
  if (tcp.status === 'fail') {
    return [
      tcp,
      { id: 'tls', status: 'skip', detail: 'no connection' },
      { id: 'login', status: 'skip', detail: 'no connection' },
      { id: 'server-clock', status: 'skip', detail: 'no connection' },
    ];
  }
  const tls = tlsCheck(result.tls, ctx);
  if (tls.status === 'fail') {
    return [
      tcp,
      tls,
      {
        id: 'login',
        status: 'skip',
        detail: 'not attempted: the token is never sent without verified TLS',
      },
      { id: 'server-clock', status: 'skip', detail: 'no login' },
    ];
  }
  if (!ctx.tokenMinted) {
    return [
      tcp,
      tls,
      { id: 'login', status: 'skip', detail: 'no token (see above)' },
      { id: 'server-clock', status: 'skip', detail: 'no login' },
    ];
  }
  return [tcp, tls, loginCheck(result.login, ctx), serverClockCheck(result)];
}
