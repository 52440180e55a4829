#!/usr/bin/env node
// The runtimes CI does not run the whole suite on: every example (the driver packages' among them:
// @rds-iam/pg, @rds-iam/postgres, @rds-iam/mysql2) and `rds-iam doctor`, run as a user runs them,
// against the emulator in front of the local databases, on each runtime named (default: Node 22,
// Node 26, Bun, Deno; binaries from the npm registry, cached by scripts/runtime.mjs). Deno runs with
// --allow-read --allow-net --allow-env, what rds-iam needs (README), plus what an example's own ORM
// or tool needs, named in EXAMPLES.
//
//   node .ci/smoke.mjs [node@22 node@26 bun@1 deno@2 ...]
//
// Prints one line per example and runtime, then a table of the runtimes; exits 1 when anything
// failed. Runs after `pnpm build` (and after the full suite, which generates the Prisma clients;
// without them they are generated here).
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRuntime } from '../scripts/runtime.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_RUNTIMES = ['node@22', 'node@26', 'bun@1', 'deno@2'];
const TIMEOUT_MS = 120_000;

/**
 * How each runtime runs a file: Deno with the permissions the README names plus what the example's
 * own dependencies need (`denoFlags`), Node with tsx for the Prisma examples' TypeScript, as their
 * `pnpm start` does.
 */
function command(runtime, bin, job) {
  if (runtime.startsWith('deno')) {
    const flags = ['--allow-read', '--allow-net', '--allow-env', ...(job.denoFlags ?? [])];
    return [bin, ['run', ...flags, job.file]];
  }
  if (runtime.startsWith('node') && job.file.endsWith('.ts')) {
    return [bin, [join(job.cwd, 'node_modules/tsx/dist/cli.mjs'), job.file]];
  }
  return [bin, [job.file]];
}

/**
 * Every example a user starts with one command (`local-endpoint` is their shared library). What
 * Deno needs beyond rds-iam's three permissions comes from the ORMs and tools, and is named here.
 */
const EXAMPLES = [
  { dir: 'pg-pool' },
  { dir: 'mysql2-pool' },
  { dir: 'postgres-js' },
  { dir: 'core-pg' },
  { dir: 'drizzle-postgres' },
  { dir: 'drizzle-mysql' },
  { dir: 'kysely-postgres' },
  { dir: 'kysely-mysql' },
  { dir: 'knex-postgres' },
  { dir: 'knex-mysql' },
  { dir: 'typeorm-postgres' },
  { dir: 'typeorm-mysql' },
  { dir: 'sequelize-postgres' },
  { dir: 'sequelize-mysql' },
  // MikroORM 6 loads fast-glob, which reads the CPU count when it is loaded.
  { dir: 'mikro-orm-postgres', denoFlags: ['--allow-sys=cpus'] },
  { dir: 'mikro-orm-mysql', denoFlags: ['--allow-sys=cpus'] },
  { dir: 'mikro-orm-7-postgres' },
  { dir: 'mikro-orm-7-mysql' },
  // Prisma's generated TypeScript imports `./client.js` for client.ts, which Deno resolves so only
  // with --sloppy-imports (a resolution flag, no permission).
  { dir: 'prisma-postgres', file: 'src/index.ts', denoFlags: ['--sloppy-imports'] },
  // ... and its MariaDB adapter's connector sends the machine's hostname at login.
  {
    dir: 'prisma-mysql',
    file: 'src/index.ts',
    denoFlags: ['--sloppy-imports', '--allow-sys=hostname'],
  },
  {
    dir: 'lambda',
    file: 'invoke.mjs',
    notOn: {
      deno: "Lambda's runtime is Node.js; the example bundles with esbuild's API, whose service does not start under Deno",
    },
  },
  { dir: 'demo', file: 'demo.mjs' },
].map((e) => ({ ...e, file: e.file ?? 'index.mjs', cwd: join(ROOT, 'examples', e.dir) }));

/** `rds-iam doctor`, from the built CLI. */
const DOCTOR = { dir: 'doctor', cwd: ROOT, file: join(ROOT, 'packages/cli/dist/bin.js') };

/** The environment of a run: this one without RDS_* and AWS_* (so local mode is local), plus `env`. */
function environment(env) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !/^RDS_(?!IAM_)/.test(k)),
  );
  return {
    ...base,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/rds-iam-smoke/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/rds-iam-smoke/credentials',
    ...env,
  };
}

/** Runs one job (an example, or the CLI) on `runtime`; never throws. */
function run(runtime, bin, job, args = [], env = {}) {
  const [program, argv] = command(runtime, bin, job);
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      program,
      [...argv, ...args],
      { cwd: job.cwd, env: environment(env), timeout: TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
      },
    );
  });
}

/** An example that ran through: exit 0, "logged in" in its output, and no signature in it. */
function loggedIn(result) {
  return (
    result.code === 0 &&
    /logged in/.test(result.stdout) &&
    !/X-Amz-Signature=[0-9a-f]{64}/.test(result.stdout + result.stderr)
  );
}

/** The Prisma clients, generated by the host's Node when the suite did not leave them. */
function ensurePrismaClients() {
  for (const engine of ['postgres', 'mysql']) {
    const dir = join(ROOT, 'examples', `prisma-${engine}`);
    if (existsSync(join(dir, 'generated'))) continue;
    const env = { ...process.env };
    if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
      // `prisma generate` wants a schema engine it never runs; offline it cannot download one.
      env.PRISMA_SCHEMA_ENGINE_BINARY = join(dir, 'prisma/schema.prisma');
    }
    execFileSync(join(dir, 'node_modules/.bin/prisma'), ['generate'], {
      cwd: dir,
      env,
      stdio: 'ignore',
    });
  }
}

/**
 * The emulator in front of the examples' user and database (as the examples start it), its CA in a
 * file and the RDS_* variables that name it, for what takes an endpoint from the environment (core-pg,
 * doctor). It holds the examples' turn on that server until `close()`, so it is opened only around
 * those runs, never while an example runs.
 */
async function endpoint(engine, dir) {
  const { exampleTarget } = await import('../examples/local-endpoint/index.mjs');
  const t = await exampleTarget(engine);
  const ca = join(dir, `${engine}.pem`);
  writeFileSync(ca, t.iam.ssl.ca);
  const env = {
    AWS_ACCESS_KEY_ID: t.iam.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: t.iam.credentials.secretAccessKey,
    RDS_HOST: t.host,
    RDS_PORT: String(t.port),
    RDS_USER: t.user,
    RDS_DATABASE: t.database,
    RDS_REGION: t.iam.region,
    RDS_SIGNING_HOST: t.iam.signingHost,
    RDS_SIGNING_PORT: String(t.iam.signingPort),
    RDS_CA_FILE: ca,
  };
  return { t, ca, env, close: () => t.close() };
}

/** Every example and doctor on `runtime`; reports each and returns whether each passed. */
async function smoke(runtime, caDir) {
  const { bin, version } = ensureRuntime(runtime);
  const kind = runtime.split('@')[0];
  const name = `${kind} ${/\d+\.\d+\.\d+/.exec(version)?.[0] ?? version}`;
  console.log(`\n-- ${name}`);
  const results = [];
  let notApplicable = 0;
  const report = (what, ok, result) => {
    results.push(ok);
    const seconds = `${result.seconds.toFixed(1)} s`;
    console.log(`${ok ? 'ok    ' : 'FAILED'} ${name.padEnd(14)} ${what.padEnd(24)} ${seconds}`);
    // A run that passed may still have warned (a deprecation): shown, not failed.
    const shown = ok ? result.stderr.trim().split('\n').filter(Boolean).slice(0, 3) : [];
    if (!ok) shown.push(...`${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15));
    for (const line of shown) console.log(`         | ${line}`);
  };
  for (const example of EXAMPLES) {
    const why = example.notOn?.[kind];
    if (why) {
      console.log(`n/a    ${name.padEnd(14)} ${example.dir.padEnd(24)} ${why}`);
      notApplicable += 1;
    } else if (example.dir !== 'core-pg') {
      const result = await run(runtime, bin, example);
      report(example.dir, loggedIn(result), result);
    }
  }
  for (const engine of ['postgres', 'mysql']) {
    const { t, ca, env, close } = await endpoint(engine, caDir);
    try {
      if (engine === 'postgres') {
        const core = EXAMPLES.find((e) => e.dir === 'core-pg');
        const result = await run(runtime, bin, core, [], env);
        report('core-pg', loggedIn(result), result);
      }
      const args = ['doctor', '--engine', engine, '--host', t.host, '--port', String(t.port)];
      args.push('--user', t.user, '--database', t.database, '--region', t.iam.region);
      args.push('--signing-host', t.iam.signingHost, '--signing-port', String(t.iam.signingPort));
      const result = await run(runtime, bin, DOCTOR, [...args, '--ca-file', ca, '--json'], {
        AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
      });
      let ok = false;
      try {
        ok = result.code === 0 && JSON.parse(result.stdout).ok === true;
      } catch {}
      report(`doctor ${engine}`, ok, result);
    } finally {
      await close();
    }
  }
  const passed = results.filter(Boolean).length;
  return { runtime: name, passed, failed: results.length - passed, notApplicable };
}

async function main(runtimes) {
  ensurePrismaClients();
  const caDir = mkdtempSync(join(tmpdir(), 'rds-iam-smoke-'));
  const summary = [];
  try {
    for (const runtime of runtimes) summary.push(await smoke(runtime, caDir));
  } finally {
    rmSync(caDir, { recursive: true, force: true });
  }
  console.log('\nruntime smoke (every example and rds-iam doctor):');
  for (const s of summary) {
    const na = s.notApplicable ? `, ${s.notApplicable} not applicable` : '';
    console.log(`  ${s.runtime.padEnd(16)} ${s.passed} passed, ${s.failed} failed${na}`);
  }
  return summary.every((s) => s.failed === 0) ? 0 : 1;
}

process.exitCode = await main(process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_RUNTIMES);
