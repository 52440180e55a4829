// The policy quick starts of the READMEs, run as a user runs them against the discovered PostgreSQL.
// examples/demo/policy.mjs (snippet policy-testing): the nearest miss names the resource id, the
// emulator refuses the login as RDS does and counts not-authorized, the fixed policy logs in.
// examples/demo/abac.mjs (snippet abac-policy): an attribute-based policy, `rds-iam policy check`
// with the principal's tag, and the emulator enforcing it for a key whose principal has the tag.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { hasDatabase, requireDatabase } from '../harness/index.js';

const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/demo/', import.meta.url));

/** Runs an example of examples/demo as a user runs it, against the discovered PostgreSQL. */
function runExample(name: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const db = requireDatabase('postgres');
  const auth = `${encodeURIComponent(db.adminUser)}${db.adminPassword ? `:${encodeURIComponent(db.adminPassword)}` : ''}`;
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('RDS_')),
  );
  return new Promise((done) => {
    execFile(
      process.execPath,
      [name],
      {
        cwd: EXAMPLE_DIR,
        env: {
          ...env,
          NO_COLOR: '1',
          RDS_IAM_EXAMPLE_POSTGRES_URL: `postgres://${auth}@${db.host}:${db.port}/${db.database}`,
        },
        timeout: 30_000,
      },
      (err, stdout, stderr) =>
        done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.runIf(hasDatabase('postgres'))('examples/demo/policy.mjs (the policy quick start)', () => {
  test('prints the decision, the nearest miss, the RDS refusal, the reason and then a login', async () => {
    const out = await runExample('policy.mjs');
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

describe.runIf(hasDatabase('postgres'))(
  'examples/demo/abac.mjs (the attribute-based quick start)',
  () => {
    test('policy check allows the tagged user and names the variable for another; the emulator agrees', async () => {
      const out = await runExample('abac.mjs');
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      const dbuser = 'arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABCDEFGHIJKL01234';
      const lines = out.stdout.trim().split('\n');
      expect(lines[0]).toBe(`allow: rds-db:connect on ${dbuser}/orders`);
      expect(lines[2]).toBe(`implicit-deny: rds-db:connect on ${dbuser}/billing`);
      expect(lines[3]).toMatch(
        new RegExp(
          `^  nearest miss: .*Statement\\[0\\] allows ${dbuser}/\\$\\{aws:PrincipalTag/dbuser\\} \\(here ${dbuser}/orders\\), the login needs ${dbuser}/billing: the user differs$`,
        ),
      );
      expect(lines.slice(4)).toEqual(['logged in', 'PAM authentication failed for user "billing"']);
    });
  },
);
