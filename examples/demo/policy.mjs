// Policy testing: reproduce and diagnose a "PAM authentication failed" that the IAM policy causes, on
// a laptop. The emulator plays an RDS instance with an account and a resource id and evaluates the
// policy of the key that signed each token as IAM does; @rds-iam/policy says why a login is denied.
//
//   node policy.mjs
//
// Upstream: the local PostgreSQL on 127.0.0.1:5432 (or RDS_IAM_EXAMPLE_POSTGRES_URL). The emulator
// logs in upstream as that URL's user (postgres): this example is about the policy, not the grant.
import { createTokenProvider } from '@rds-iam/core';
import { DEMO_CREDENTIALS, startEmulator } from '@rds-iam/emulator';
import { dbUserArn, evaluatePolicies } from '@rds-iam/policy';
import pg from 'pg';

const admin = new URL(
  process.env.RDS_IAM_EXAMPLE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
);
const upstream = {
  host: admin.hostname,
  port: Number(admin.port || 5432),
  user: decodeURIComponent(admin.username || 'postgres'),
  ...(admin.password
    ? { auth: { kind: 'password', password: decodeURIComponent(admin.password) } }
    : {}),
};

/** The policy `rds-iam policy` prints for one user of one database. */
function policyFor(resourceId, user) {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'rds-db:connect',
        Resource: dbUserArn({ region: 'us-east-1', account: '123456789012', resourceId, user }),
      },
    ],
  });
}

/** Logs in once as `app` through the emulator; resolves to the error message or 'logged in'. */
async function logIn(emulator) {
  const tokens = createTokenProvider({
    host: emulator.host,
    port: emulator.port,
    user: 'app',
    region: emulator.region,
    credentials: DEMO_CREDENTIALS,
  });
  const client = new pg.Client({
    host: emulator.host,
    port: emulator.port,
    user: 'app',
    database: 'postgres',
    password: () => tokens.getToken(),
    ssl: { ca: emulator.caPem },
  });
  try {
    await client.connect();
    return 'logged in';
  } catch (err) {
    return err.message;
  } finally {
    await client.end().catch(() => {});
    tokens.close();
  }
}

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
