// One library in one fresh process (forked by run.mjs), so its credential and token caches start
// cold and everything it asks of the credentials endpoint is counted for it alone.
// Env: BENCH_FAKE_CLOCK=1 installs the simulated clock before any library is imported.
import tls from 'node:tls';
import { installClock } from './clock.mjs';
import { redact, rpc } from './rpc.mjs';

const clock = process.env.BENCH_FAKE_CLOCK === '1' ? installClock() : undefined;
const tlsCounts = countTlsHandshakes();
const { createVariant } = await import('./variants.mjs');

/**
 * Counts TLS handshakes and how many resumed a session (mysql2 >= 3.24 caches sessions; pg does
 * not), to show the variants of an engine pay for the same kind of handshake.
 */
function countTlsHandshakes() {
  const counts = { handshakes: 0, resumed: 0 };
  const connect = tls.connect;
  tls.connect = function countedConnect(...args) {
    const socket = connect.apply(this, args);
    socket.once('secureConnect', () => {
      counts.handshakes++;
      if (socket.isSessionReused()) counts.resumed++;
    });
    return socket;
  };
  return counts;
}

/** @type {Awaited<ReturnType<typeof createVariant>> | undefined} */
let variant;

/** Opens one new physical connection (connect + SELECT 1) and closes it. */
async function openClose() {
  const handle = await variant.connect();
  await variant.close(handle);
}

const parent = rpc(process, {
  async init({ engine, name, target, max }) {
    variant = await createVariant(engine, name, target, { max });
    return true;
  },

  /** One latency sample: ms for connect + SELECT 1; the close is awaited but not timed. */
  async sample() {
    const started = performance.now();
    const handle = await variant.connect();
    const elapsed = performance.now() - started;
    await variant.close(handle);
    return elapsed;
  },

  /** `n` connections opened at once from this cold process. */
  async storm({ n }) {
    const started = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: n }, () =>
        variant.connect().then((handle) => {
          const connectedMs = performance.now() - started;
          return variant.close(handle).then(() => connectedMs);
        }),
      ),
    );
    const wallMs = performance.now() - started;
    const failures = results.filter((r) => r.status === 'rejected');
    const connectedMs = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    return {
      ok: n - failures.length,
      failed: failures.length,
      firstError: failures[0] ? redact(failures[0].reason?.message ?? failures[0].reason) : '',
      allConnectedMs: connectedMs.length ? Math.max(...connectedMs) : Number.NaN,
      wallMs,
      mints: variant.mints(),
    };
  },

  /**
   * `steps` connections, one every `stepMs` of simulated time: before each step the clock moves on
   * and the parent moves the emulator's clock to match.
   */
  async churn({ steps, stepMs }) {
    if (!clock) throw new Error('churn needs BENCH_FAKE_CLOCK=1');
    let ok = 0;
    let failed = 0;
    let firstError = '';
    for (let i = 0; i < steps; i++) {
      if (i > 0) clock.advance(stepMs);
      await parent.call('clock', clock.offsetMs);
      try {
        await openClose();
        ok++;
      } catch (err) {
        failed++;
        firstError ||= `step ${i}: ${redact(err?.message ?? err)}`;
      }
    }
    return { ok, failed, firstError, mints: variant.mints(), simulatedMs: clock.offsetMs };
  },

  tls() {
    return { ...tlsCounts };
  },

  async end() {
    await variant?.end();
    setImmediate(() => process.exit(0));
    return true;
  },
});
