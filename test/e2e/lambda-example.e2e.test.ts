// examples/lambda as its README says to run it: `node invoke.mjs` bundles the handler with esbuild in
// both formats, with the AWS SDK left to Lambda's runtime (CDK's default) and bundled, copies the
// bundles to a folder with no node_modules and invokes each in a fresh
// process against the emulator in front of the local PostgreSQL, twice (cold, then warm); the process
// must then exit by itself.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { databaseFor, hasDatabase } from '../harness/index.js';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

describe.runIf(hasDatabase('postgres') && databaseFor('postgres')?.source !== 'pglite')(
  'examples/lambda',
  () => {
    test('all four bundles log in with IAM through the emulator, reuse the pool and exit by themselves', async () => {
      const pg = databaseFor('postgres');
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('RDS_')),
      );
      const { stdout } = await exec(process.execPath, ['invoke.mjs'], {
        cwd: join(root, 'examples/lambda'),
        env: {
          ...env,
          RDS_IAM_EXAMPLE_POSTGRES_URL: `postgres://${pg?.adminUser}:${pg?.adminPassword ?? ''}@${pg?.host}:${pg?.port}/${pg?.database}`,
        },
        timeout: 90_000,
      });
      for (const variant of [
        'cjs, SDK external',
        'esm, SDK external',
        'cjs, SDK bundled',
        'esm, SDK bundled',
      ]) {
        expect(stdout).toMatch(
          new RegExp(
            `^${variant}: logged in as rds_iam_example \\(cold, then warm\\); first response \\d+ ms after process start; exited by itself \\d+ ms after the last response$`,
            'm',
          ),
        );
      }
      // A token has X-Amz-Signature in it: none may reach the output.
      expect(stdout).not.toMatch(/X-Amz-Signature|Action=connect/);
    }, 120_000);
  },
);
