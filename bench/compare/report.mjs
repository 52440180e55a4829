// Renders the results: aligned text tables for the console, and BENCHMARKS.md.
import { ratio } from './stats.mjs';

const LABELS = {
  'rds-iam': { postgres: 'rds-iam (@rds-iam/pg)', mysql: 'rds-iam (@rds-iam/mysql2)' },
  wrapper: {
    postgres: 'aws-advanced-nodejs-wrapper (AwsPGClient, iam)',
    mysql: 'aws-advanced-nodejs-wrapper (AwsMySQLClient, iam)',
  },
  floor: { postgres: 'floor (pg, fixed token)', mysql: 'floor (mysql2, fixed token)' },
};
const VARIANTS = ['rds-iam', 'wrapper', 'floor'];
const TARGET_RATIO = 1.05;

const ms = (v) => (Number.isFinite(v) ? v.toFixed(2) : '-');
const x = (v) => (Number.isFinite(v) ? `${v.toFixed(3)}x` : '-');
const pct = (r) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)} %`;

function label(variant, engine) {
  return LABELS[variant][engine];
}

function rejectedText(logins) {
  if (!logins || logins.rejected === 0) return '0';
  const reasons = Object.entries(logins.rejectedByReason)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return reasons ? `${logins.rejected} (${reasons})` : String(logins.rejected);
}

/** Tokens signed in the child process: rds-iam `minted` events, wrapper `Signer#getAuthToken` calls. */
function mintsText(variant, r) {
  return variant === 'floor' ? '0 (1 pre-minted)' : String(r.mints);
}

/** Distinct accepted tokens (by signature) as the emulator saw them. */
function distinctText(r) {
  const d = r.logins?.distinctTokens;
  return d === undefined ? 'n/a' : String(d);
}

/** "one simulated hour", or however long the churn settings made it. */
function churnSpan(settings) {
  const minutes = (settings.churnSteps * settings.churnStepS) / 60;
  if (minutes === 60) return 'one simulated hour';
  return minutes % 60 === 0
    ? `${minutes / 60} simulated hours`
    : `${Math.round(minutes)} simulated minutes`;
}

function latencyRows(results) {
  const rows = [];
  for (const e of results.engines) {
    if (e.skipped) continue;
    const floor = e.latency.variants.floor;
    for (const v of VARIANTS) {
      const s = e.latency.variants[v];
      rows.push([
        e.engine,
        label(v, e.engine),
        ms(s.p50),
        ms(s.p99),
        ms(s.mean),
        v === 'floor' ? '1' : x(ratio(s.p50, floor.p50)),
        v === 'floor' ? '1' : x(ratio(s.p99, floor.p99)),
        s.tls ? `${s.tls.resumed}/${s.tls.handshakes}` : '-',
      ]);
    }
  }
  return rows;
}
const LATENCY_HEAD = [
  'engine',
  'variant',
  'p50 ms',
  'p99 ms',
  'mean ms',
  'p50 / floor',
  'p99 / floor',
  'TLS resumed',
];

function stormRows(results) {
  const rows = [];
  for (const e of results.engines) {
    if (e.skipped) continue;
    for (const v of VARIANTS) {
      const r = e.storm[v];
      rows.push([
        e.engine,
        label(v, e.engine),
        `${r.ok}/${r.n}`,
        String(r.credentialRequests),
        mintsText(v, r),
        distinctText(r),
        ms(r.allConnectedMs),
        rejectedText(r.logins),
      ]);
    }
  }
  return rows;
}
const STORM_HEAD = [
  'engine',
  'variant',
  'connected',
  'credential requests',
  'token mints',
  'distinct tokens (server)',
  'wall ms (all connected)',
  'logins rejected',
];

function churnRows(results) {
  const rows = [];
  for (const e of results.engines) {
    if (e.skipped) continue;
    for (const v of VARIANTS) {
      const r = e.churn[v];
      rows.push([
        e.engine,
        label(v, e.engine),
        `${r.ok}/${r.ok + r.failed}`,
        mintsText(v, r),
        distinctText(r),
        String(r.credentialRequests),
        rejectedText(r.logins),
      ]);
    }
  }
  return rows;
}
const CHURN_HEAD = [
  'engine',
  'variant',
  'connected',
  'token mints',
  'distinct tokens (server)',
  'credential requests',
  'logins rejected',
];

function textTable(head, rows) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function mdTable(head, rows) {
  const esc = (c) => c.replaceAll('|', '\\|');
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `| ${head.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

function mintSource(results) {
  const live = results.engines.filter((e) => !e.skipped);
  const server =
    live.length > 0 && live.every((e) => e.distinctTokensServerSide)
      ? 'Server-side, the emulator counts distinct accepted tokens by their `X-Amz-Signature` (`counters().distinctTokens`, reset before each storm and churn process). The two differ when a library signs the same token twice: SigV4 is deterministic, so signatures made in the same second with the same key, endpoint and user are the same token, and the server can only count it once.'
      : 'This emulator build has no `distinctTokens` counter, so there is no server-side count.';
  return `Token mints are counted client-side in each child process: rds-iam \`onEvent\` events of type \`minted\`; for the wrapper, calls of \`@aws-sdk/rds-signer\` \`Signer.prototype.getAuthToken\` (wrapped in that process; it is the module the wrapper imports). ${server}`;
}

/** Plain statements about the targets, from the numbers. */
function reading(results) {
  const lines = [];
  for (const e of results.engines) {
    if (e.skipped) {
      lines.push(`- **${e.engine}**: not run: ${e.skipped}.`);
      continue;
    }
    const lat = e.latency.variants;
    const r50 = ratio(lat['rds-iam'].p50, lat.floor.p50);
    const r99 = ratio(lat['rds-iam'].p99, lat.floor.p99);
    const w50 = ratio(lat.wrapper.p50, lat.floor.p50);
    const borderline = Math.abs(r50 - TARGET_RATIO) <= 0.02;
    lines.push(
      `- **${e.engine}, latency**: rds-iam p50 is ${pct(r50)} against the floor (target within +5 %): ` +
        `**${r50 <= TARGET_RATIO ? 'met' : 'not met'}**${borderline ? ' (borderline: within the few percent that p50 ratios move between runs on a shared machine; re-run before reading much into it)' : ''}; ` +
        `p99 ${pct(r99)} (p99 of ${e.latency.variants.floor.n} samples is noisy). ` +
        `The wrapper's p50 is ${pct(w50)} against the floor.`,
    );
    const s = e.storm;
    const stormConnected = s['rds-iam'].ok === s['rds-iam'].n;
    lines.push(
      `- **${e.engine}, cold storm of ${e.stormN}**: rds-iam made ${s['rds-iam'].credentialRequests} credential-endpoint request(s) (target 1: ` +
        `**${s['rds-iam'].credentialRequests === 1 ? 'met' : 'not met'}**) and ${mintsText('rds-iam', s['rds-iam'])} mint(s)` +
        `${stormConnected ? '' : `, but only ${s['rds-iam'].ok} of ${s['rds-iam'].n} connected`}; ` +
        `the wrapper made ${s.wrapper.credentialRequests} request(s) and ${mintsText('wrapper', s.wrapper)} mint(s), ` +
        `which the server saw as ${distinctText(s.wrapper)} distinct token(s) ` +
        `(${s.wrapper.ok}/${s.wrapper.n} connected). All ${e.stormN} connected in ${ms(s['rds-iam'].allConnectedMs)} ms (rds-iam), ` +
        `${ms(s.wrapper.allConnectedMs)} ms (wrapper), ${ms(s.floor.allConnectedMs)} ms (floor); one run each, so the wall times are indicative only.`,
    );
    const c = e.churn;
    lines.push(
      `- **${e.engine}, ${churnSpan(results.settings)} of churn**: rds-iam ${mintsText('rds-iam', c['rds-iam'])} mints, ` +
        `${c['rds-iam'].credentialRequests} credential request(s), ${c['rds-iam'].failed} failed connection(s); ` +
        `wrapper ${mintsText('wrapper', c.wrapper)} mints, ${c.wrapper.credentialRequests} credential request(s), ` +
        `${c.wrapper.failed} failed, ${rejectedText(c.wrapper.logins)} rejected login(s); ` +
        `the fixed-token floor connected ${c.floor.ok} of ${c.floor.ok + c.floor.failed} times (its token dies after 15 minutes). ` +
        'rds-iam mints more often by design: it starts a background refresh 5 minutes before a token expires ' +
        'and never hands out one with less than a minute left (`refreshAheadMs`, `expiryMarginMs`), so a ' +
        'token serves about 10 minutes; the wrapper reuses one for its full 900 s.',
    );
  }
  return lines.join('\n');
}

export function renderConsole(results) {
  const { settings } = results;
  return [
    `New physical connection: connect + SELECT 1 (ms), ${settings.n} samples per variant after ${settings.warmup} warm-up, interleaved`,
    textTable(LATENCY_HEAD, latencyRows(results)),
    '',
    'Cold storm: concurrent new connections from a fresh process',
    textTable(STORM_HEAD, stormRows(results)),
    '',
    `Churn: ${settings.churnSteps} connections, one every ${settings.churnStepS} s of simulated time`,
    textTable(CHURN_HEAD, churnRows(results)),
    '',
    'Token mints: signatures made in the child (rds-iam minted events, wrapper Signer calls).',
    'Distinct tokens: what the emulator saw; same-second signatures with one key are one token.',
    ...results.engines.filter((e) => e.skipped).map((e) => `${e.engine} skipped: ${e.skipped}`),
    '',
    'Reading:',
    reading(results).replaceAll('**', ''),
    '',
  ].join('\n');
}

export function renderMarkdown(results) {
  const { machine: m, versions: v, settings: s } = results;
  const live = results.engines.filter((e) => !e.skipped);
  const capped = live.filter((e) => e.stormCapped);
  return `# Benchmarks: rds-iam against aws-advanced-nodejs-wrapper's IAM plugin

<!-- Generated by \`pnpm bench:compare\` (bench/compare/run.mjs). Do not edit by hand down to "Cold start": re-running rewrites that part and keeps the hand-written sections after it. -->

Generated by \`pnpm bench:compare\` on ${results.date.slice(0, 10)} (${results.date}), in ${results.durationS.toFixed(0)} s.
It runs on demand, not in CI: it needs the PostgreSQL and MySQL/MariaDB servers on loopback, and
its numbers depend on the machine. Re-running rewrites this part of the file.

## Reading

${reading(results)}

## What was measured, and how

Three ways for a Node.js app to open a new physical connection with an IAM auth token, per engine:

| variant | how it connects |
| --- | --- |
| rds-iam | \`createPool\` from \`@rds-iam/pg\` / \`@rds-iam/mysql2\` with \`signingHost\`/\`signingPort\` = the emulated RDS endpoint, \`region\`, \`ssl: { ca }\` (the default chain for credentials) |
| wrapper | \`aws-advanced-nodejs-wrapper\` \`AwsPGClient\` / \`AwsMySQLClient\` with \`plugins: "iam"\`, \`iamHost\`, \`iamDefaultPort\`, \`iamRegion\` (default \`iamTokenExpiration\`, 900 s), one client per connection |
| floor | the plain driver (\`pg.Pool\` / mysql2 pool) given one valid token, pre-minted by the harness, as its password: the cost of the connection alone |

- **Server**: \`@rds-iam/emulator\` on loopback, one per engine, in the harness process: it speaks the
  PostgreSQL / MySQL protocol, answers TLS with a certificate from its own CA, verifies each token as
  RDS does (SigV4, \`rds-db\`, region, user, signed host:port, expiry, session token, credential
  expiry) and relays to the real server (${live.map((e) => `${e.serverVersion} as \`${e.upstream}\``).join('; ') || 'none'}).
  Tokens are signed for ${live.map((e) => `\`${e.endpoint}\``).join(' / ')} while the clients dial 127.0.0.1.
- **Credentials**: one loopback HTTP server stands in for the ECS container-credentials endpoint and
  serves the same temporary credentials (\`AccessKeyId\`, \`SecretAccessKey\`, \`Token\`, \`Expiration\`
  ${s.credentialsLifetimeH} h ahead${s.credsDelayMs ? `, answering after ${s.credsDelayMs} ms` : ', answering at once'}); the
  emulator accepts exactly those. Each library runs in its own forked process per scenario with no
  \`AWS_*\` variables from the shell, \`AWS_REGION=us-east-1\`,
  \`AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/creds/<label>\` (the label only tells the
  processes apart in the request counts), shared config files pointed at a missing path, so both
  libraries' default credential chains (AWS SDK v3 node provider chain) end at that endpoint, cold.
- **TLS**: verification on for all three. PostgreSQL: CA and hostname (the RDS name, via
  \`servername\`) for all three. MySQL: CA for all three; rds-iam also checks the RDS name on the
  certificate before it sends the token; the wrapper and the floor go through mysql2, which checks a
  name only with \`ssl.verifyIdentity: true\` (set here) and only against the dialled host, 127.0.0.1,
  which the emulator's certificate also carries. The \`TLS resumed\` column counts handshakes that
  resumed a TLS session in the latency run: mysql2 3.24 caches sessions per \`ssl\` object, node-postgres
  does not, so within an engine all three pay for the same kind of handshake.
- **1. New-connection latency**: ${s.n} samples per variant after ${s.warmup} warm-up rounds; three
  long-lived child processes (one per variant) driven round by round, the order rotating so each
  variant takes each position equally often. A sample is connect + \`SELECT 1\` on a new physical
  connection (pool of 1 whose connection is destroyed after each sample; one client per sample for
  the wrapper), timed in the child with \`performance.now()\`; closing is awaited before the next
  sample but not timed (a destroyed pool connection and the wrapper's \`end()\` close differently).
  Tokens come from each library's cache, as they would in a running app. Nearest-rank p50 / p99.
- **2. Cold storm**: a fresh process opens ${live.map((e) => `${e.stormN} (${e.engine})`).join(' / ') || s.storm} connections at once
  (a pool sized to fit, \`Promise.all\` of connect + \`SELECT 1\`; clients for the wrapper), counting
  requests to the credentials endpoint, token mints and the time until all had run \`SELECT 1\`
  (module loading excluded).${capped.length ? ` The storm was capped below ${s.storm} for ${capped.map((e) => `${e.engine} (max_connections ${e.maxConnections})`).join(', ')}: every emulated login opens an upstream connection and other work shares the server.` : ''}
- **3. Churn**: one connection opened and closed every ${s.churnStepS} s for ${churnSpan(s).replace('one ', 'a ')}
  (${s.churnSteps} connections) in a fresh process whose global \`Date\` (constructor, \`Date()\`,
  \`Date.now\`) is replaced before the libraries are imported by the real clock plus an offset that
  moves ${s.churnStepS} s per step; the emulator's clock is moved to the same offset
  (\`setClockOffset\`) before each connection, so tokens signed at simulated time verify at simulated
  time. Timers, \`performance.now()\` and TLS keep real time.
- **Counting**: credential requests by the loopback endpoint, per process.
  ${mintSource(results)}

## Machine

| | |
| --- | --- |
| OS | ${m.os} |
| CPU | ${m.cpu}, ${m.cores} cores |
| memory | ${m.memoryGiB} GiB |
| Node.js | ${m.node} |
| load average at the end (1/5/15 min) | ${m.loadavg.join(' / ')} |

The machine was not reserved for the run; other load adds noise, to all three variants alike in the
latency test since their samples are interleaved.

## Versions

| package | version |
| --- | --- |
${Object.entries(v)
  .map(([name, version]) => `| ${name} | ${version} |`)
  .join('\n')}

## Results

### 1. New-connection latency (ms), ratios against the floor

${mdTable(LATENCY_HEAD, latencyRows(results))}

### 2. Cold storm

${mdTable(STORM_HEAD, stormRows(results))}

### 3. One hour of churn (simulated)

${mdTable(CHURN_HEAD, churnRows(results))}

## The wrapper: what it needed, and what stood out

- **Configuration**: \`plugins: "iam"\` alone (the default list, \`auroraConnectionTracker,failover,efm2\`,
  tracks Aurora topology and monitors host health) and a fixed \`dialect\` (\`"pg"\` / \`"mysql"\`).
  The plain dialects take the host list from the connection string, so no topology queries run;
  without \`dialect\` it works too, but the first connection of each process probes the server with
  the RDS Multi-AZ, Aurora and RDS detection queries (a first connection measured about 90 ms instead
  of 9). \`iamHost\` and \`iamDefaultPort\` are needed because the dialled address (127.0.0.1:port)
  is not the signed endpoint.
- **Its dialect cache is keyed by host alone, across engines**: in one process, after an
  \`AwsPGClient\` had connected to 127.0.0.1, an \`AwsMySQLClient\` to 127.0.0.1 (another port)
  threw \`Unknown dialect code: 'pg'\` until \`dialect\` was set. The benchmark sets it and runs each
  library and engine in its own process anyway.
- **MySQL needs \`enableCleartextPlugin: true\`**: the IAM plugin sets the token as the password but
  not the cleartext plugin, which mysql2 refuses by default; and mysql2 verifies the certificate's
  name only with \`ssl.verifyIdentity: true\`, which the wrapper does not set either. It does not turn
  TLS on for IAM logins at all: without \`ssl\` it connects in plaintext and relies on the server to
  refuse (the emulator did, as RDS does).
- **No single-flight**: every connection that finds no cached token signs its own, so a cold pool
  or burst of N connections mints N tokens.
- **No credential caching between tokens**: each token is signed with a new
  \`fromNodeProviderChain()\` (\`AwsCredentialsManager.getDefaultProvider\`), so every mint is a fresh
  trip to the credentials source (container endpoint, instance metadata, SSO, STS), which is what
  rate limits bite on.
- **Token lifetime from the client clock**: a cached token is reused for \`iamTokenExpiration\`
  (900 s) counted from when signing finished, while RDS counts from \`X-Amz-Date\` (the signing
  time truncated to the second, taken before credentials were resolved). So it can hand out a token up
  to about a second, plus however long the credentials took, after RDS stopped accepting it; there is
  no safety margin and no cap by the credentials' expiry. A rejection is then retried once with a new
  token. The churn run did not land in that window (0 rejected logins).
- **Token text in logs**: at \`LOG_LEVEL=debug\` it logs \`Generated new authentication token = '…'\`
  and \`Use cached authentication token = '…'\` with the whole token; the benchmark pins
  \`LOG_LEVEL=warn\` in the children.
- **Packaging**: \`@aws-sdk/rds-signer\` and \`@aws-sdk/credential-providers\` (and \`pg\` / \`mysql2\`)
  are only devDependencies of aws-advanced-nodejs-wrapper 2.0.1, so the application has to install
  them; it also calls \`dotenv.config()\` when imported, loading a \`.env\` from the working directory
  into \`process.env\`.
`;
}

/** Where the hand-written sections of BENCHMARKS.md begin: figures from other benchmarks. */
export const HAND_WRITTEN_FROM = '## Cold start (from `pnpm bench`';

/**
 * `generated` followed by the hand-written sections of `previous` (the file as it was), so that a
 * run of bench:compare rewrites only its own part of BENCHMARKS.md.
 */
export function withHandWrittenSections(generated, previous) {
  const at = previous.indexOf(HAND_WRITTEN_FROM);
  return at < 0 ? generated : `${generated.trimEnd()}\n\n${previous.slice(at)}`;
}
