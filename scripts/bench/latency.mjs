// Latency helpers shared by the repository's benchmarks (packages/*/bench, bench/compare): summary
// statistics and the interleaved new-connection comparison against a baseline in the same run.

/**
 * Mean and nearest-rank p50 / p99 of latency samples (ms).
 * @param {number[]} samples
 */
export function summarize(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const pick = (q) => s[Math.max(0, Math.min(s.length - 1, Math.ceil(q * s.length) - 1))] ?? NaN;
  return {
    n: s.length,
    mean: s.reduce((a, b) => a + b, 0) / (s.length || 1),
    p50: pick(0.5),
    p99: pick(0.99),
  };
}

/** `a / b`, or NaN when it can't be computed. */
export function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN;
}

/**
 * Times `subject` against `baseline`, interleaved so machine noise hits both alike (the order
 * alternates, so neither always follows the other's teardown), after `warmup` rounds of each, and
 * prints one table: both rows and their ratio.
 *
 * @param {object} options
 * @param {string} options.title printed above the table
 * @param {{ label: string, once: () => Promise<number> }} options.subject one sample: its ms
 * @param {{ label: string, once: () => Promise<number> }} options.baseline one sample: its ms
 * @param {number} options.n samples of each
 * @param {number} options.warmup rounds of each before sampling
 * @param {string} options.ratioLabel the ratio row's label, with its target
 * @param {string} [options.column] what one sample is (the first column's heading)
 */
export async function compareLatency({
  title,
  subject,
  baseline,
  n,
  warmup,
  ratioLabel,
  column = 'new connection (connect + SELECT 1)',
}) {
  for (let i = 0; i < warmup; i++) {
    await subject.once();
    await baseline.once();
  }
  const a = [];
  const b = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      a.push(await subject.once());
      b.push(await baseline.once());
    } else {
      b.push(await baseline.once());
      a.push(await subject.once());
    }
  }
  const sa = summarize(a);
  const sb = summarize(b);
  const ms = (v) => `${v.toFixed(2)} ms`;
  console.log(title);
  console.table([
    { [column]: subject.label, mean: ms(sa.mean), p50: ms(sa.p50), p99: ms(sa.p99) },
    { [column]: baseline.label, mean: ms(sb.mean), p50: ms(sb.p50), p99: ms(sb.p99) },
    {
      [column]: ratioLabel,
      mean: ratio(sa.mean, sb.mean).toFixed(3),
      p50: ratio(sa.p50, sb.p50).toFixed(3),
      p99: ratio(sa.p99, sb.p99).toFixed(3),
    },
  ]);
  return { subject: sa, baseline: sb };
}
