import type { AuthTokenInfo } from '@rds-iam/core';
import { formatDuration } from '../mint.js';
import type { Check } from './check.js';

/** The earliest plausible "now": anything before it means a clock reset (no RTC, dead battery). */
const PLAUSIBLE_AFTER = Date.UTC(2025, 0, 1);

/** The `clock` check: the local clock is plausible and the token was dated by it. */
export function clockCheck(info: AuthTokenInfo | undefined, mintedAt: number): Check {
  const now = Date.now();
  if (now < PLAUSIBLE_AFTER) {
    return {
      id: 'clock',
      status: 'fail',
      detail: `this machine's clock reads ${new Date(now).toISOString()}, before this tool was built`,
      fix: 'set the clock (timedatectl set-ntp true, chronyc makestep): RDS rejects tokens dated more than 5 minutes off',
    };
  }
  if (info === undefined) {
    return {
      id: 'clock',
      status: 'pass',
      detail: `local clock ${new Date(now).toISOString()} (plausible); no token to compare, and no time source is reachable offline`,
    };
  }
  const drift = info.issuedAt.getTime() - mintedAt;
  if (Math.abs(drift) > 5_000) {
    return {
      id: 'clock',
      status: 'warn',
      detail: `the token is dated ${info.issuedAt.toISOString()}, ${formatDuration(drift)} away from the local clock when it was minted`,
      fix: "the signer did not use this machine's clock; check for a faked clock (libfaketime, TZ tricks)",
    };
  }
  return {
    id: 'clock',
    status: 'pass',
    detail: `the token's X-Amz-Date ${info.issuedAt.toISOString()} matches the local clock (only this was checked here: no time source is reachable offline; the server's clock is compared after login)`,
  };
}
