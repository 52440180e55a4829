// `pnpm bench` for @rds-iam/core. Every figure is measured in this one run and reported as a ratio
// against a baseline measured alongside it, so the numbers mean the same on any machine.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { cpus } from 'node:os';
import { Signer } from '@aws-sdk/rds-signer';
import { createTokenProvider } from '../dist/index.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};

async function nsPerOp(fn, minMs = 1500) {
  for (let i = 0; i < 200; i++) await fn(); // warm-up
  let ops = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(minMs) * 1_000_000n;
  while (process.hrtime.bigint() < deadline) {
    for (let i = 0; i < 100; i++) await fn();
    ops += 100;
  }
  return Number(process.hrtime.bigint() - start) / ops;
}

const fmt = (ns) =>
  ns >= 1e6
    ? `${(ns / 1e6).toFixed(2)} ms`
    : ns >= 1e3
      ? `${(ns / 1e3).toFixed(2)} µs`
      : `${ns.toFixed(0)} ns`;

// 1. Warm getToken() against a raw signer call.
const signer = new Signer({
  hostname: HOST,
  port: 5432,
  username: 'app',
  region: 'us-east-1',
  credentials,
});
const provider = createTokenProvider({ host: HOST, port: 5432, user: 'app', credentials });
await provider.getToken();
const rawNs = await nsPerOp(() => signer.getAuthToken());
const warmNs = await nsPerOp(() => provider.getToken());

// 2. A cold storm of 1,000 callers through the default chain, against a loopback stand-in for the
// container credentials endpoint that counts its requests.
let credentialRequests = 0;
const server = createServer((_req, res) => {
  credentialRequests += 1;
  setTimeout(() => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        AccessKeyId: 'ASIABENCH00000000001',
        SecretAccessKey: 's',
        Token: 't',
        Expiration: new Date(Date.now() + 3600_000).toISOString(),
      }),
    );
  }, 20);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `http://127.0.0.1:${server.address().port}/`;
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_CONFIG_FILE = '/nonexistent/config';
process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
let mints = 0;
const storm = createTokenProvider({
  host: HOST,
  port: 5432,
  user: 'storm',
  onEvent: (e) => {
    if (e.type === 'minted') mints += 1;
  },
});
const stormStart = performance.now();
await Promise.all(Array.from({ length: 1000 }, () => storm.getToken()));
const stormMs = performance.now() - stormStart;
server.close();

// 3. Import cost: a fresh process importing the package against an empty one.
function processMs(args, runs = 25) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    execFileSync(process.execPath, args, { cwd: new URL('..', import.meta.url) });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)];
}
const emptyMs = processMs(['-e', '0']);
const emptyEsmMs = processMs(['--input-type=module', '-e', '0']);
const importMs = processMs(['--input-type=module', '-e', "import '@rds-iam/core'"]);
const sdkMs = processMs(['--input-type=module', '-e', "import '@aws-sdk/rds-signer'"]);

console.log(
  `@rds-iam/core benchmark, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'})`,
);
console.table([
  { measure: 'raw Signer.getAuthToken() (static credentials)', value: fmt(rawNs) },
  { measure: 'warm provider.getToken()', value: fmt(warmNs) },
  {
    measure: 'warm getToken() is cheaper by',
    value: `${(rawNs / warmNs).toFixed(0)}x (target >= 100x)`,
  },
  { measure: 'cold storm of 1,000 callers: mints', value: `${mints} (target 1)` },
  {
    measure: 'cold storm of 1,000 callers: credential requests',
    value: `${credentialRequests} (target 1)`,
  },
  { measure: 'cold storm: time to serve all 1,000', value: `${stormMs.toFixed(1)} ms` },
  { measure: 'node -e 0 (median of 25)', value: `${emptyMs.toFixed(1)} ms` },
  { measure: 'node --input-type=module -e 0 (median of 25)', value: `${emptyEsmMs.toFixed(1)} ms` },
  {
    measure: "import '@rds-iam/core' (median of 25)",
    value: `${importMs.toFixed(1)} ms (${(importMs / emptyMs).toFixed(2)}x node -e 0, +${(importMs - emptyEsmMs).toFixed(1)} ms over empty ESM)`,
  },
  {
    measure: "import '@aws-sdk/rds-signer', for scale",
    value: `${sdkMs.toFixed(1)} ms (${(sdkMs / emptyMs).toFixed(2)}x empty)`,
  },
]);
const ok = rawNs / warmNs >= 100 && mints === 1 && credentialRequests === 1;
if (!ok) {
  console.error('a target was missed');
  process.exitCode = 1;
}

// 4. Cold start to the first token, fresh processes against @aws-sdk/rds-signer (its own file).
await import('./cold-start.mjs');
