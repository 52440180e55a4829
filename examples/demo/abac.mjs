// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM writes its policy variables as ${key}.
// An attribute-based policy: one policy for every service, each may log in only as the database user
// its principal's tag names. Checked with `rds-iam policy check` before it is deployed, and enforced
// by the emulator for a key whose principal carries the tag, as IAM does on RDS.
//
//   node abac.mjs
//
// Upstream: the local PostgreSQL on 127.0.0.1:5432 (or RDS_IAM_EXAMPLE_POSTGRES_URL); see
// emulated-login.mjs.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '@rds-iam/cli';
import { DEMO_CREDENTIALS, startEmulator } from '@rds-iam/emulator';
import { logIn, upstream } from './emulated-login.mjs';

const file = join(tmpdir(), `rds-iam-abac-${process.pid}.json`);

// --- snippet: abac-policy ---
// Each role may connect only as the database user its tag `dbuser` names.
const policy = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: 'rds-db:connect',
      Resource:
        'arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABCDEFGHIJKL01234/${aws:PrincipalTag/dbuser}',
    },
  ],
});
writeFileSync(file, policy);

// 1. Checked before it is deployed: rds-iam policy check, for the role and its tag.
const role = 'arn:aws:iam::123456789012:role/orders-service';
const database = ['--region', 'us-east-1', '--account', '123456789012'];
const principal = ['--principal-arn', role, '--principal-tag', 'dbuser=orders'];
for (const user of ['orders', 'billing']) {
  const check = ['check', '--policy-file', file, '--resource-id', 'db-ABCDEFGHIJKL01234'];
  await main(['policy', ...check, ...database, '--user', user, ...principal]);
}
// allow: rds-db:connect on ...:dbuser:db-ABCDEFGHIJKL01234/orders
// implicit-deny: ... (here .../orders), the login needs .../billing: the user differs

// 2. Enforced by the emulator: the key's principal carries the tag, as the role's does on AWS.
const emulator = await startEmulator({
  engine: 'postgres',
  upstream,
  accountId: '123456789012',
  resourceId: 'db-ABCDEFGHIJKL01234',
  credentials: [
    {
      ...DEMO_CREDENTIALS,
      policies: [policy],
      principal: { arn: role, tags: { dbuser: 'orders' } },
    },
  ],
});
console.log(await logIn(emulator, 'orders')); // logged in
console.log(await logIn(emulator, 'billing')); // PAM authentication failed for user "billing"
await emulator.stop();
// --- end snippet ---
rmSync(file, { force: true });
