// The policy-testing quick start of the READMEs (examples/demo/policy.mjs, snippet policy-testing),
// run as a user runs it, against the discovered PostgreSQL: the nearest miss names the resource id,
// the emulator refuses the login as RDS does and counts not-authorized, the fixed policy logs in.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { hasDatabase, requireDatabase } from '../harness/index.js';

const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/demo/', import.meta.url));

describe.runIf(hasDatabase('postgres'))('examples/demo/policy.mjs (the policy quick start)', () => {
  test('prints the decision, the nearest miss, the RDS refusal, the reason and then a login', async () => {
    const db = requireDatabase('postgres');
    const auth = `${encodeURIComponent(db.adminUser)}${db.adminPassword ? `:${encodeURIComponent(db.adminPassword)}` : ''}`;
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('RDS_')),
    );
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        process.execPath,
        ['policy.mjs'],
        {
          cwd: EXAMPLE_DIR,
          env: {
            ...env,
            RDS_IAM_EXAMPLE_POSTGRES_URL: `postgres://${auth}@${db.host}:${db.port}/${db.database}`,
          },
          timeout: 30_000,
        },
        (err, stdout, stderr) =>
          done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout.trim().split('\n')).toEqual([
      'implicit-deny',
      'policy 0 Statement[0] allows arn:aws:rds-db:us-east-1:123456789012:dbuser:orders-db/app, the login needs arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABCDEFGHIJKL01234/app: the resource id differs',
      'PAM authentication failed for user "app"',
      "{ 'not-authorized': 1 }",
      'logged in',
    ]);
  });
});
