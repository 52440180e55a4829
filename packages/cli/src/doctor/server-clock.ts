import { formatDuration } from '../mint.js';
import type { ProbeResult } from '../probe/conn.js';
import type { Check } from './check.js';

/** The `server-clock` check: the server's clock (read after login) against this machine's. */
export function serverClockCheck(result: ProbeResult): Check {
  const time = result.serverTime;
  if (time === undefined) {
    return {
      id: 'server-clock',
      status: 'skip',
      detail: result.serverTimeError
        ? `could not read the server's clock: ${result.serverTimeError}`
        : "no login, so only the token's date was checked against the local clock",
    };
  }
  const skew = time.serverMs - time.localMs;
  const amount =
    Math.abs(skew) < 60_000
      ? `${(Math.abs(skew) / 1000).toFixed(1)} s`
      : formatDuration(Math.abs(skew));
  const text = `the server's clock is ${amount} ${skew >= 0 ? 'ahead of' : 'behind'} this machine's (round trip ${time.roundTripMs} ms)`;
  if (Math.abs(skew) > 300_000) {
    return {
      id: 'server-clock',
      status: 'fail',
      detail: text,
      fix: 'RDS rejects tokens more than 5 minutes off: sync this clock (NTP, chrony)',
    };
  }
  if (Math.abs(skew) > 30_000) {
    return {
      id: 'server-clock',
      status: 'warn',
      detail: text,
      fix: 'sync this clock (NTP, chrony) before the drift reaches 5 minutes',
    };
  }
  return { id: 'server-clock', status: 'pass', detail: text };
}
