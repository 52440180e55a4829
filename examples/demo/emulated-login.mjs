// What the policy examples (policy.mjs, abac.mjs) share: the upstream they put the emulator in front
// of, the policy `rds-iam policy` prints, and one login through the emulator.
//
// Upstream: the local PostgreSQL on 127.0.0.1:5432 (or RDS_IAM_EXAMPLE_POSTGRES_URL). The emulator
// logs in upstream as that URL's user (postgres) whatever the login user: these examples are about the
// policy, not the grant (with an upstream user the emulator has no login user's grant to check).
import { createTokenProvider } from '@rds-iam/core';
import { DEMO_CREDENTIALS } from '@rds-iam/emulator';
import { dbUserArn } from '@rds-iam/policy';
import pg from 'pg';

const admin = new URL(
  process.env.RDS_IAM_EXAMPLE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
);

/** The emulator's upstream. */
export const upstream = {
  host: admin.hostname,
  port: Number(admin.port || 5432),
  user: decodeURIComponent(admin.username || 'postgres'),
  ...(admin.password
    ? { auth: { kind: 'password', password: decodeURIComponent(admin.password) } }
    : {}),
};

/** The policy `rds-iam policy` prints for one user of one database. */
export function policyFor(resourceId, user) {
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

/** Logs in once as `user` through the emulator; resolves to the error message or 'logged in'. */
export async function logIn(emulator, user = 'app') {
  const tokens = createTokenProvider({
    host: emulator.host,
    port: emulator.port,
    user,
    region: emulator.region,
    credentials: DEMO_CREDENTIALS,
  });
  const client = new pg.Client({
    host: emulator.host,
    port: emulator.port,
    user,
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
