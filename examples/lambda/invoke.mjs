// Invokes the bundled handler locally, as Lambda would: a fresh Node.js process per format (CommonJS,
// ES module) and per bundling of the AWS SDK (left to the runtime, or bundled) loads the bundle from
// a folder with no node_modules, calls the handler twice (a cold and a warm invocation)
// and must then exit by itself (nothing left running). Against the emulator in front of the local
// PostgreSQL, or against RDS with RDS_HOST and the other RDS_* variables.
//
//   pnpm --filter @rds-iam/example-lambda start
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_CREDENTIALS } from '@rds-iam/emulator';
import { exampleTarget } from '@rds-iam/example-local-endpoint';
import { bundle } from './build.mjs';

/** Lambda's environment for the handler: the endpoint, and credentials as Lambda sets them. */
export function lambdaEnvironment(target, caFile) {
  const env = {
    PATH: process.env.PATH,
    RDS_HOST: target.host,
    RDS_PORT: String(target.port),
    RDS_USER: target.user,
    RDS_DATABASE: target.database,
    AWS_REGION: target.iam.region ?? process.env.AWS_REGION ?? 'us-east-1',
  };
  if (target.emulated) {
    Object.assign(env, {
      RDS_SIGNING_HOST: target.iam.signingHost,
      RDS_SIGNING_PORT: String(target.iam.signingPort),
      RDS_REGION: target.iam.region,
      RDS_CA_FILE: caFile,
      AWS_ACCESS_KEY_ID: DEMO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: DEMO_CREDENTIALS.secretAccessKey,
    });
  } else {
    for (const [k, v] of Object.entries(process.env)) {
      if (k.startsWith('AWS_') || k.startsWith('RDS_')) env[k] = v;
    }
  }
  return env;
}

/**
 * Runs `file` (a bundled handler) in a fresh process: `{ results, firstResponseMs, exitedAfterMs }`,
 * `firstResponseMs` counted from the process's start to the first invocation's answer. Rejects when
 * the process fails or is still running after `timeoutMs` (something kept it alive).
 */
export function invokeFresh(file, env, { timeoutMs = 20_000 } = {}) {
  const script = `
    const file = ${JSON.stringify(file)};
    const { handler } = file.endsWith('.cjs')
      ? (await import('node:module')).createRequire(file)(file)
      : await import(file);
    const cold = await handler({ echo: 'cold' });
    const firstResponseMs = performance.now();
    const warm = await handler({ echo: 'warm' });
    process.on('exit', () => {
      console.log(JSON.stringify({ results: [cold, warm], firstResponseMs,
        exitedAfterMs: performance.now() - firstResponseMs }));
    });`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { env, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err) {
          const why = err.killed ? `still running after ${timeoutMs} ms` : `exit ${err.code}`;
          reject(new Error(`${file}: ${why}\n${stderr}`));
        } else resolve(JSON.parse(stdout.trim().split('\n').at(-1)));
      },
    );
  });
}

/**
 * Bundles `entry` in both formats (`options` as for `bundle`) and copies the bundles to a folder with
 * no node_modules.
 */
export async function isolatedBundles(entry = 'handler.mjs', options = {}) {
  const built = await bundle(entry, options);
  const dir = mkdtempSync(join(tmpdir(), 'rds-iam-lambda-'));
  const files = {};
  for (const [format, path] of Object.entries(built)) {
    files[format] = join(dir, path.split('/').at(-1));
    copyFileSync(path, files[format]);
  }
  return { dir, files, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const target = await exampleTarget('postgres');
  // The SDK left to Lambda's runtime (CDK's default), then bundled: neither may need node_modules.
  const variants = [];
  try {
    for (const sdk of ['external', 'bundled']) {
      const bundles = await isolatedBundles('handler.mjs', { sdk });
      variants.push(bundles);
      const caFile = join(bundles.dir, 'ca.pem');
      if (target.emulated) writeFileSync(caFile, target.iam.ssl.ca);
      const env = lambdaEnvironment(target, caFile);
      for (const [format, file] of Object.entries(bundles.files)) {
        const run = await invokeFresh(file, env);
        const [cold, warm] = run.results.map((r) => JSON.parse(r.body));
        console.log(
          `${format}, SDK ${sdk}: logged in as ${cold.user} (${cold.echo}, then ${warm.echo}); first ` +
            `response ${run.firstResponseMs.toFixed(0)} ms after process start; exited by itself ` +
            `${run.exitedAfterMs.toFixed(0)} ms after the last response`,
        );
      }
    }
  } finally {
    for (const bundles of variants) bundles.remove();
    await target.close();
  }
}
