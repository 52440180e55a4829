import net from 'node:net';

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
export function checkUpstream(
  upstream: { readonly host: string; readonly port: number },
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const where = `${upstream.host}:${upstream.port}`;
  return new Promise((resolve) => {
    const socket = net.connect({ host: upstream.host, port: upstream.port });
    const done = (warning: string | undefined): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      socket.destroy();
      resolve(warning);
    };
    const aborted = (): void => done(undefined);
    const timer = setTimeout(
      () => done(`the upstream server ${where} did not answer within ${timeoutMs} ms`),
      timeoutMs,
    );
    timer.unref();
    signal?.addEventListener('abort', aborted);
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(
        `the upstream server ${where} does not answer (${err.code ?? err.message}): every login will fail (upstream-unreachable) until it does`,
      ),
    );
  });
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
