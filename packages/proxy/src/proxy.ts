import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { createIamConnector, type IamConnector } from '@rds-iam/core';
import { LoginEnded, LoginSession } from '@rds-iam/wire';
import { type ProxyCounters, Tally } from './counters.js';
import { logEntry, type ProxyLogEntry, type ProxyRefusalReason } from './log.js';
import { serveMysql } from './mysql-session.js';
import { type LocalProxyOptions, type ProxyEngine, resolveProxyOptions } from './options.js';
import { servePostgres } from './postgres-session.js';
import type { SessionEnv } from './session-env.js';

/**
 * A running local IAM proxy.
 * @example
 * ```ts
 * const proxy = await startLocalProxy({ engine: 'postgres', host, user: 'app', listen: { port: 6543 } });
 * console.log(proxy.url('shop'), proxy.counters().logins);
 * await proxy.close();
 * ```
 */
export interface LocalProxy {
  readonly engine: ProxyEngine;
  /** Where it listens: `{ host, port }`, or `{ path }` for a Unix socket. */
  readonly address: { readonly host: string; readonly port: number } | { readonly path: string };
  /** The upstream target, `user@host:port`. */
  readonly target: string;
  /**
   * A connection URL for local clients (no password unless the proxy has a local password): for a
   * Unix socket, PostgreSQL's `host=` query form.
   */
  url(database?: string): string;
  counters(): ProxyCounters;
  /** Whether it accepts new sessions (false once `close` began). */
  readonly ready: boolean;
  /**
   * Stops accepting, lets open sessions finish for up to `timeoutMs` (default 10 000), then ends
   * the rest and lets go of the token cache. Idempotent.
   */
  close(options?: { readonly timeoutMs?: number }): Promise<void>;
}

const SCHEMES: Record<ProxyEngine, string> = { postgres: 'postgres', mysql: 'mysql' };

/**
 * Starts a local IAM proxy: local clients (psql, pg_dump, mysql, mysqldump, Prisma's schema engine,
 * GUIs, any driver) log in with the protocol's ordinary login, with no token and no TLS on loopback;
 * for each, the proxy logs in to the RDS endpoint as the IAM user with a token from core's shared
 * cache, over TLS verified against the RDS CAs of the endpoint's region, retries a rejected token
 * once with a fresh one, then relays bytes without parsing them.
 *
 * Listens on loopback (or a Unix socket, mode 0600) unless `allowNonLoopback` is set together with
 * a `localPassword`. Never logs, counts or returns a token.
 *
 * @throws {RdsIamError} `ERR_INVALID_OPTION` (listen address, password), the core's option errors,
 * or the listen error, before anything listens.
 *
 * @example
 * ```ts
 * import { startLocalProxy } from '@rds-iam/proxy';
 * const proxy = await startLocalProxy({
 *   engine: 'mysql',
 *   host: 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com',
 *   user: 'app',
 *   database: 'shop',
 *   listen: { port: 3307 },
 * });
 * // DATABASE_URL=mysql://app@127.0.0.1:3307/shop npx prisma migrate deploy
 * ```
 */
export async function startLocalProxy(options: LocalProxyOptions): Promise<LocalProxy> {
  const resolved = resolveProxyOptions(options);
  const tally = new Tally();
  const {
    engine: _engine,
    database: _database,
    listen: _listen,
    allowNonLoopback: _allow,
    localPassword: _password,
    handshakeTimeoutMs: _handshake,
    connectTimeoutMs: _connect,
    unref: _unref,
    onLog,
    ...iam
  } = options;
  const connector: IamConnector = createIamConnector(
    {
      ...iam,
      onEvent: (event) => {
        if (event.type === 'minted') tally.tokensMinted++;
        options.onEvent?.(event);
      },
    },
    resolved.engine,
  );
  const target = `${connector.user}@${connector.host}:${connector.port}`;
  const log = (entry: Omit<ProxyLogEntry, 'time' | 'target'>): void => {
    if (!onLog) return;
    try {
      onLog(logEntry({ ...entry, target }));
    } catch {
      // A failing log callback must not break a session.
    }
  };

  const sessions = new Set<net.Socket>();
  let stopping: Promise<void> | undefined;
  const server = net.createServer({ noDelay: true });
  try {
    await listen(server, resolved.listen);
  } catch (err) {
    connector.close();
    throw err;
  }
  if (options.unref === true) server.unref();
  server.on('error', () => {
    // After listen, errors (EMFILE on accept, ...) must not crash the host process.
  });
  const address = addressOf(server, resolved.listen);
  const where = 'path' in address ? address.path : `${address.host}:${address.port}`;
  log({
    level: 'info',
    event: 'listening',
    message: `listening on ${where} for ${resolved.engine}`,
  });

  const serve = resolved.engine === 'postgres' ? servePostgres : serveMysql;
  server.on('connection', (raw) => {
    tally.connectionsTotal++;
    sessions.add(raw);
    raw.on('error', () => {
      // The session handles errors; this only keeps one from crashing the process.
    });
    const client = raw.remoteAddress ?? 'unix';
    let loggedInAt: number | undefined;
    raw.once('close', () => {
      sessions.delete(raw);
      tally.closedBytesIn += raw.bytesRead;
      tally.closedBytesOut += raw.bytesWritten;
      if (loggedInAt !== undefined) {
        log({
          level: 'info',
          event: 'closed',
          client,
          ms: Math.round(performance.now() - loggedInAt),
          bytesIn: raw.bytesRead,
          bytesOut: raw.bytesWritten,
          message: `session of ${client} closed (${raw.bytesRead} bytes in, ${raw.bytesWritten} out)`,
        });
      }
    });
    let upstreamSince = 0;
    let refused = false;
    const refuse = (reason: ProxyRefusalReason, message: string): void => {
      if (refused) return;
      refused = true;
      tally.reject(reason);
      log({
        level: 'warn',
        event: 'refused',
        client,
        reason,
        message: `refused ${client}: ${reason}: ${message}`,
      });
    };
    const session = new LoginSession(raw, resolved.handshakeTimeoutMs, () => {
      refuse('bad-handshake', `no complete login within ${resolved.handshakeTimeoutMs} ms`);
      session.close();
    });
    const env: SessionEnv = {
      session,
      options: resolved,
      connector,
      upstream: {
        connector,
        timeoutMs: resolved.connectTimeoutMs,
        track: (socket) => {
          session.upstream = socket;
        },
        onRetry: () => {
          tally.retries++;
        },
      },
      refuse,
      loggedIn(clientUser) {
        const ms = performance.now() - upstreamSince;
        loggedInAt = performance.now();
        tally.logins++;
        tally.loginTook(ms);
        log({
          level: 'info',
          event: 'login',
          client,
          ms: Math.round(ms),
          message: `${client} (as "${clientUser}") logged in upstream as ${connector.user} in ${Math.round(ms)} ms`,
        });
      },
      upstreamPhase(lastWords) {
        upstreamSince = performance.now();
        session.restartTimer(resolved.connectTimeoutMs, () => {
          const message = `the login to ${connector.host}:${connector.port} did not finish within ${resolved.connectTimeoutMs} ms (connectTimeoutMs)`;
          refuse('upstream-unreachable', message);
          session.end(lastWords(`rds-iam proxy: ${message}`));
        });
      },
      clientPhase() {
        session.restartTimer(resolved.handshakeTimeoutMs, () => {
          refuse('bad-handshake', `no complete login within ${resolved.handshakeTimeoutMs} ms`);
          session.close();
        });
      },
    };
    if (stopping) {
      refuse('stopping', 'the proxy is stopping');
      session.close();
      return;
    }
    serve(env).catch((err: unknown) => {
      // LoginEnded: the client has its answer. Anything else: garbage, a client gone, a timeout.
      if (err instanceof LoginEnded) return;
      if (!session.closed)
        refuse('bad-handshake', err instanceof Error ? err.message : String(err));
      session.close();
    });
  });

  const close = (closeOptions: { readonly timeoutMs?: number } = {}): Promise<void> => {
    stopping ??= (async () => {
      const timeoutMs = closeOptions.timeoutMs ?? 10_000;
      log({
        level: 'info',
        event: 'stopping',
        message: `stopping: no new sessions; ${sessions.size} open get up to ${timeoutMs} ms`,
      });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const drained = new Promise<void>((resolve) => {
        const check = (): void => {
          if (sessions.size === 0) resolve();
        };
        for (const s of sessions) s.once('close', check);
        check();
      });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), timeoutMs);
        timer.unref();
      });
      const outcome = await Promise.race([drained, late]);
      clearTimeout(timer);
      const cut = outcome === 'late' ? sessions.size : 0;
      if (cut > 0) {
        await Promise.all(
          [...sessions].map(
            (s) =>
              new Promise<void>((resolve) => {
                s.once('close', () => resolve());
                s.destroy();
              }),
          ),
        );
      }
      await closed;
      connector.close();
      log({
        level: 'info',
        event: 'stopped',
        message:
          cut > 0
            ? `stopped; ${cut} session(s) still open after ${timeoutMs} ms were ended`
            : 'stopped',
      });
    })();
    return stopping;
  };

  return {
    engine: resolved.engine,
    address,
    target,
    get ready() {
      return stopping === undefined;
    },
    url(database) {
      const db = database ?? resolved.database;
      const path = db === undefined ? '' : `/${encodeURIComponent(db)}`;
      if ('path' in address) {
        return resolved.engine === 'postgres'
          ? `postgres://${encodeURIComponent(connector.user)}@${path}?host=${encodeURIComponent(address.path.replace(/\/\.s\.PGSQL\.\d+$/, ''))}`
          : `mysql://${encodeURIComponent(connector.user)}@localhost${path}?socket=${encodeURIComponent(address.path)}`;
      }
      const host = net.isIPv6(address.host) ? `[${address.host}]` : address.host;
      return `${SCHEMES[resolved.engine]}://${encodeURIComponent(connector.user)}@${host}:${address.port}${path}`;
    },
    counters() {
      let liveIn = 0;
      let liveOut = 0;
      for (const s of sessions) {
        liveIn += s.bytesRead;
        liveOut += s.bytesWritten;
      }
      return tally.snapshot(sessions.size, liveIn, liveOut);
    },
    close,
  };
}

async function listen(
  server: net.Server,
  where: { readonly host: string; readonly port: number } | { readonly path: string },
): Promise<void> {
  if ('path' in where) await removeStaleSocket(where.path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.removeListener('error', reject);
      resolve();
    };
    if ('path' in where) server.listen({ path: where.path }, done);
    else server.listen({ host: where.host, port: where.port }, done);
  });
  // Only the proxy's own user may connect: anyone who can connect logs in as the IAM user.
  if ('path' in where) chmodSync(where.path, 0o600);
}

/**
 * A socket file left by a proxy that did not stop cleanly (nothing answers on it) is replaced; a
 * live one, or any other file, is left for listen to refuse (EADDRINUSE).
 */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) return;
  } catch {
    return; // Nothing there: the usual case.
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (!live) unlinkSync(path);
}

function addressOf(
  server: net.Server,
  where: { readonly host: string; readonly port: number } | { readonly path: string },
): LocalProxy['address'] {
  if ('path' in where) return { path: where.path };
  const bound = server.address();
  return typeof bound === 'object' && bound
    ? { host: where.host, port: bound.port }
    : { host: where.host, port: where.port };
}
