import http from 'node:http';
import { LATENCY_BUCKETS } from './counters.js';
import type { LocalProxy } from './proxy.js';

/**
 * The counters of `proxies` in Prometheus' text format, one series per target (label `target`,
 * `user@host:port`, and `engine`).
 *
 * @example
 * ```ts
 * res.end(prometheusMetrics([proxy]));
 * ```
 */
export function prometheusMetrics(proxies: readonly LocalProxy[]): string {
  const lines: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void => {
    lines.push(`# HELP rds_iam_proxy_${name} ${help}`, `# TYPE rds_iam_proxy_${name} ${type}`);
  };
  const label = (p: LocalProxy, extra = ''): string =>
    `{target="${labelValue(p.target)}",engine="${p.engine}"${extra}}`;
  const each = (name: string, value: (c: ReturnType<LocalProxy['counters']>) => number): void => {
    for (const p of proxies) lines.push(`rds_iam_proxy_${name}${label(p)} ${value(p.counters())}`);
  };
  family('connections_open', 'gauge', 'Client connections open now.');
  each('connections_open', (c) => c.connectionsOpen);
  family('connections_total', 'counter', 'Client connections accepted.');
  each('connections_total', (c) => c.connectionsTotal);
  family('logins_total', 'counter', 'Sessions logged in upstream with an IAM token.');
  each('logins_total', (c) => c.logins);
  family(
    'login_retries_total',
    'counter',
    'Upstream logins rejected once and retried with a fresh token.',
  );
  each('login_retries_total', (c) => c.retries);
  family('rejections_total', 'counter', 'Clients refused before their session started, by reason.');
  for (const p of proxies) {
    for (const [reason, n] of Object.entries(p.counters().rejectionsByReason)) {
      lines.push(`rds_iam_proxy_rejections_total${label(p, `,reason="${reason}"`)} ${n}`);
    }
  }
  family('tokens_minted_total', 'counter', 'IAM auth tokens minted (cache misses).');
  each('tokens_minted_total', (c) => c.tokensMinted);
  family('bytes_total', 'counter', 'Bytes relayed, by direction as the client sees it.');
  for (const p of proxies) {
    const c = p.counters();
    lines.push(
      `rds_iam_proxy_bytes_total${label(p, ',direction="from_client"')} ${c.bytesFromClients}`,
    );
    lines.push(
      `rds_iam_proxy_bytes_total${label(p, ',direction="to_client"')} ${c.bytesToClients}`,
    );
  }
  family(
    'upstream_login_seconds',
    'histogram',
    'Time to log in upstream: token, TCP, TLS, authentication.',
  );
  for (const p of proxies) {
    const { upstreamLogin } = p.counters();
    LATENCY_BUCKETS.forEach((bound, i) => {
      lines.push(
        `rds_iam_proxy_upstream_login_seconds_bucket${label(p, `,le="${bound}"`)} ${upstreamLogin.buckets[i] ?? 0}`,
      );
    });
    lines.push(
      `rds_iam_proxy_upstream_login_seconds_bucket${label(p, ',le="+Inf"')} ${upstreamLogin.count}`,
    );
    lines.push(`rds_iam_proxy_upstream_login_seconds_sum${label(p)} ${upstreamLogin.sumSeconds}`);
    lines.push(`rds_iam_proxy_upstream_login_seconds_count${label(p)} ${upstreamLogin.count}`);
  }
  return `${lines.join('\n')}\n`;
}

function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * A running health endpoint.
 * @example
 * ```ts
 * const health = await startHealthServer({ host: '127.0.0.1', port: 9187 }, [proxy]);
 * await health.close();
 * ```
 */
export interface HealthServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /healthz` (liveness: 200 while the process runs), `GET /readyz` (200 while every
 * proxy accepts sessions, 503 once one is stopping) and `GET /metrics` (Prometheus text) for
 * `proxies`, on loopback unless told otherwise.
 *
 * @example
 * ```ts
 * const health = await startHealthServer({ port: 9187 }, [pgProxy, mysqlProxy]);
 * // curl -s 127.0.0.1:9187/metrics | grep rds_iam_proxy_logins_total
 * ```
 */
export async function startHealthServer(
  listen: { readonly host?: string; readonly port?: number },
  proxies: readonly LocalProxy[],
): Promise<HealthServer> {
  const host = listen.host ?? '127.0.0.1';
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = proxies.every((p) => p.ready);
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
        .end(ready ? 'ready\n' : 'stopping\n');
    } else if (path === '/metrics') {
      res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
        .end(prometheusMetrics(proxies));
    } else {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: /healthz, /readyz, /metrics\n');
    }
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: listen.port ?? 0 }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  return {
    host,
    port: typeof bound === 'object' && bound ? bound.port : (listen.port ?? 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
