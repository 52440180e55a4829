import { type LocalProxyOptions, resolveProxyOptions } from '@rds-iam/proxy';
import { diagnose } from '../doctor/diagnose.js';
import { reporter } from '../doctor/report.js';
import { CliError, EXIT, messageOf, UsageError } from '../errors.js';
import type { Io } from '../io.js';
import type { ProxyTarget } from './proxy-targets.js';

/**
 * `rds-iam proxy --check`: runs doctor's checks against every target, with the proxy's own bounds,
 * before anything listens. A sidecar whose login cannot work then stops at start-up with doctor's
 * explanation (on stderr, the proxy's log stream: stdout stays the `ready` lines), instead of
 * listening and refusing every client later.
 *
 * @throws {CliError} `ERR_CHECK_FAILED` (exit 1) when a check of any target fails.
 */
export async function checkTargets(
  targets: readonly ProxyTarget[],
  io: Io,
  json: boolean,
): Promise<void> {
  // The proxy's options as it will run them: a listen address it would refuse is refused first,
  // before any network call, and the connect bound is its own default when not given.
  const plans = targets.map((t) => ({ ...t, asRun: asRun(t.options) }));
  const failed: string[] = [];
  for (const { target, options, asRun } of plans) {
    const report = reporter({ stdout: io.stderr, env: io.env }, json, { event: 'check' });
    const bounds = {
      credentialsTimeoutMs: options.credentialsTimeoutMs,
      connectTimeoutMs: asRun.connectTimeoutMs,
    };
    if ((await diagnose(target, bounds, report, io)) !== EXIT.OK) {
      failed.push(`${target.user}@${target.host}:${target.port}`);
    }
  }
  if (failed.length > 0) {
    throw new CliError(
      `the check of ${failed.join(', ')} failed (see above): not listening`,
      EXIT.FAILED,
      'ERR_CHECK_FAILED',
    );
  }
}

function asRun(options: LocalProxyOptions): ReturnType<typeof resolveProxyOptions> {
  try {
    return resolveProxyOptions(options);
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_INVALID_OPTION') {
      throw new UsageError(messageOf(err));
    }
    throw err;
  }
}
