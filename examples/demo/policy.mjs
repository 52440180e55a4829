// Policy testing: reproduce and diagnose a "PAM authentication failed" that the IAM policy causes, on
// a laptop. The emulator plays an RDS instance with an account and a resource id and evaluates the
// policy of the key that signed each token as IAM does; @rds-iam/policy says why a login is denied.
//
//   node policy.mjs
//
// Upstream: the local PostgreSQL on 127.0.0.1:5432 (or RDS_IAM_EXAMPLE_POSTGRES_URL); see
// emulated-login.mjs.
import { DEMO_CREDENTIALS, startEmulator } from '@rds-iam/emulator';
import { dbUserArn, evaluatePolicies } from '@rds-iam/policy';
import { logIn, policyFor, upstream } from './emulated-login.mjs';

// --- snippet: policy-testing ---
// A policy written for the instance *name* instead of its resource id: the classic mistake.
const policy = policyFor('orders-db', 'app');

// 1. Before any login: what IAM decides for this user of this database, and why.
const check = evaluatePolicies([policy], {
  resource: dbUserArn({
    region: 'us-east-1',
    account: '123456789012',
    resourceId: 'db-ABCDEFGHIJKL01234',
    user: 'app',
  }),
});
console.log(check.decision); // implicit-deny
console.log(check.nearestMiss?.explanation); // ... the resource id differs

// 2. The same policy on an emulated RDS instance: the login is refused exactly as RDS refuses it,
//    and the emulator's counters say why.
const emulator = await startEmulator({
  engine: 'postgres',
  upstream,
  accountId: '123456789012',
  resourceId: 'db-ABCDEFGHIJKL01234',
  credentials: [{ ...DEMO_CREDENTIALS, policies: [policy] }],
});
console.log(await logIn(emulator)); // PAM authentication failed for user "app"
console.log(emulator.counters().rejectedByReason); // { 'not-authorized': 1 }

// 3. Fixed policy, same key: logged in.
emulator.addCredentials({
  ...DEMO_CREDENTIALS,
  policies: [policyFor('db-ABCDEFGHIJKL01234', 'app')],
});
console.log(await logIn(emulator)); // logged in
await emulator.stop();
// --- end snippet ---
