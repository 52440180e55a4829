import { ConnectTimeoutError, connectWithin } from '@rds-iam/wire';

/**
 * Whether the upstream server answers: a TCP connection within `timeoutMs`. Resolves to a warning
 * that says what failed and what follows (every login fails until upstream answers), or `undefined`
 * when it answered. Never rejects; the socket and timer are gone when it resolves, and `signal`
 * ends the check at once (the emulator stopped).
 *
 * @example
 * ```ts
 * const warning = await checkUpstream({ host: '127.0.0.1', port: 5432 }, 3_000);
 * if (warning) console.warn(warning);
 * ```
 */
export async function checkUpstream(
  upstream: { readonly host: string; readonly port: number },
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const where = `${upstream.host}:${upstream.port}`;
  try {
    (await connectWithin(upstream.host, upstream.port, timeoutMs, signal)).destroy();
    return undefined;
  } catch (err) {
    if (signal?.aborted) return undefined;
    if (err instanceof ConnectTimeoutError) {
      return `the upstream server ${where} did not answer within ${timeoutMs} ms`;
    }
    const { code, message } = err as NodeJS.ErrnoException;
    return `the upstream server ${where} does not answer (${code ?? message}): every login will fail (upstream-unreachable) until it does`;
  }
}

/**
 * A warning as the emulator's commands print it, next to the login lines.
 *
 * @example
 * ```ts
 * startEmulator({ ...options, onWarning: (m) => process.stderr.write(`${formatWarning(m)}\n`) });
 * // 2026-01-01T00:00:00.000Z warning: the upstream server 127.0.0.1:5432 does not answer (ECONNREFUSED): ...
 * ```
 */
export function formatWarning(message: string, at: Date = new Date()): string {
  return `${at.toISOString()} warning: ${message}`;
}
