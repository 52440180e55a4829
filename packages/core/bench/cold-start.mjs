// Cold start to the first token, as on Lambda: a fresh process with credentials in the environment
// imports the library, gets one token, and exits. @rds-iam/core's createTokenProvider().getToken()
// against @aws-sdk/rds-signer's new Signer().getAuthToken(), alternating fresh processes in one run;
// medians and their ratio (target <= 1.0). Runs against whatever ../dist holds (ESM or CommonJS):
// the child imports the package by name.
import { cpus } from 'node:os';
import { compareLatency, summarize } from '../../../scripts/bench/latency.mjs';
import { processMs } from './child.mjs';

const N = Number(process.env.BENCH_COLD_N ?? 41);
const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const cwd = new URL('..', import.meta.url);
// What Lambda gives a function; no shared files, no metadata endpoint.
const env = {
  AWS_ACCESS_KEY_ID: 'ASIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: 'IQoJb3JpZ2luX2VjEXAMPLEsessiontoken',
  AWS_REGION: 'us-east-1',
  AWS_CONFIG_FILE: '/nonexistent/rds-iam-bench/config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/rds-iam-bench/credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
};

const core = `import { createTokenProvider } from '@rds-iam/core';
await createTokenProvider({ host: '${HOST}', port: 5432, user: 'app' }).getToken();`;
const signer = `import { Signer } from '@aws-sdk/rds-signer';
await new Signer({ hostname: '${HOST}', port: 5432, username: 'app' }).getAuthToken();`;

const empty = [];
for (let i = 0; i < N; i++) empty.push(await processMs('', { cwd, env }));
const emptyMs = summarize(empty).p50;

const { subject, baseline } = await compareLatency({
  title: `@rds-iam/core cold start to first token, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}); N=${N} fresh processes each, alternating; environment credentials (Lambda-style)`,
  subject: { label: '@rds-iam/core getToken()', once: () => processMs(core, { cwd, env }) },
  baseline: {
    label: '@aws-sdk/rds-signer getAuthToken()',
    once: () => processMs(signer, { cwd, env }),
  },
  n: N,
  warmup: 3,
  ratioLabel: 'ratio (target <= 1.0)',
  column: 'process start to exit',
});
console.log(
  `empty node process (median of ${N}): ${emptyMs.toFixed(1)} ms; over it: @rds-iam/core +${(subject.p50 - emptyMs).toFixed(1)} ms, signer +${(baseline.p50 - emptyMs).toFixed(1)} ms (ratio ${((subject.p50 - emptyMs) / (baseline.p50 - emptyMs)).toFixed(3)})`,
);
