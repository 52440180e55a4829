// Summary statistics of latency samples (ms): the repository's shared ones.
export { ratio, summarize } from '../../scripts/bench/latency.mjs';
