import type { ProxyRefusalReason } from './log.js';

/** Upper bounds (seconds) of the upstream login latency histogram. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/**
 * What a proxy has done since it started.
 * @example
 * ```ts
 * const { connectionsOpen, logins, rejectionsByReason } = proxy.counters();
 * ```
 */
export interface ProxyCounters {
  /** Client connections open now. */
  readonly connectionsOpen: number;
  /** Client connections accepted since start. */
  readonly connectionsTotal: number;
  /** Sessions logged in upstream and relayed. */
  readonly logins: number;
  /** Clients refused or dropped before their session started, for any reason. */
  readonly rejections: number;
  readonly rejectionsByReason: Readonly<Partial<Record<ProxyRefusalReason, number>>>;
  /** Upstream logins rejected once and retried with a fresh token. */
  readonly retries: number;
  /** IAM tokens minted for this proxy (not cache hits). */
  readonly tokensMinted: number;
  /** Bytes received from clients, and sent to them, over every session (open ones included). */
  readonly bytesFromClients: number;
  readonly bytesToClients: number;
  /** Upstream logins timed (token, TCP, TLS, authentication): count, sum and histogram. */
  readonly upstreamLogin: {
    readonly count: number;
    readonly sumSeconds: number;
    /** Cumulative counts per bound of {@link LATENCY_BUCKETS}. */
    readonly buckets: readonly number[];
  };
}

/** The mutable tally behind {@link ProxyCounters}. */
export class Tally {
  connectionsTotal = 0;
  logins = 0;
  retries = 0;
  tokensMinted = 0;
  closedBytesIn = 0;
  closedBytesOut = 0;
  readonly rejections = new Map<ProxyRefusalReason, number>();
  readonly #latency = { count: 0, sum: 0, buckets: LATENCY_BUCKETS.map(() => 0) };

  reject(reason: ProxyRefusalReason): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1);
  }

  loginTook(ms: number): void {
    const seconds = ms / 1000;
    this.#latency.count++;
    this.#latency.sum += seconds;
    LATENCY_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) this.#latency.buckets[i] = (this.#latency.buckets[i] ?? 0) + 1;
    });
  }

  snapshot(open: number, liveIn: number, liveOut: number): ProxyCounters {
    return {
      connectionsOpen: open,
      connectionsTotal: this.connectionsTotal,
      logins: this.logins,
      rejections: [...this.rejections.values()].reduce((a, b) => a + b, 0),
      rejectionsByReason: Object.fromEntries(this.rejections),
      retries: this.retries,
      tokensMinted: this.tokensMinted,
      bytesFromClients: this.closedBytesIn + liveIn,
      bytesToClients: this.closedBytesOut + liveOut,
      upstreamLogin: {
        count: this.#latency.count,
        sumSeconds: this.#latency.sum,
        buckets: [...this.#latency.buckets],
      },
    };
  }
}
