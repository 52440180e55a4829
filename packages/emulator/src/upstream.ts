import type { UpstreamTarget } from './context.js';
import type { EmulatorEngine, UpstreamOptions } from './options.js';

const DEFAULT_PORTS: Record<EmulatorEngine, number> = { postgres: 5432, mysql: 3306 };
const SCHEMES: Record<EmulatorEngine, readonly string[]> = {
  postgres: ['postgres:', 'postgresql:'],
  mysql: ['mysql:', 'mariadb:'],
};

/**
 * Parses the `upstream` option.
 *
 * @example
 * ```ts
 * parseUpstream('postgres', 'postgres://app:secret@127.0.0.1:5432');
 * // { host: '127.0.0.1', port: 5432, user: 'app', auth: { kind: 'password', password: 'secret' } }
 * ```
 */
export function parseUpstream(
  engine: EmulatorEngine,
  upstream: string | UpstreamOptions,
): UpstreamTarget {
  if (typeof upstream !== 'string') {
    if (!upstream.host || !Number.isInteger(upstream.port) || upstream.port <= 0) {
      throw new TypeError('upstream needs a host and a port');
    }
    return {
      host: upstream.host,
      port: upstream.port,
      auth: upstream.auth ?? { kind: 'trust' },
      ...(upstream.user !== undefined ? { user: upstream.user } : {}),
    };
  }
  let url: URL;
  try {
    url = new URL(upstream);
  } catch {
    throw new TypeError(
      `upstream ${JSON.stringify(upstream)} is not a URL like ${engine}://host:port`,
    );
  }
  if (!SCHEMES[engine].includes(url.protocol)) {
    throw new TypeError(
      `upstream scheme ${url.protocol} does not match engine ${engine} (use ${SCHEMES[engine].join(' or ')})`,
    );
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new TypeError('upstream URL has no host');
  const user = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  return {
    host,
    port: url.port ? Number(url.port) : DEFAULT_PORTS[engine],
    auth: password !== undefined ? { kind: 'password', password } : { kind: 'trust' },
    ...(user !== undefined ? { user } : {}),
  };
}
