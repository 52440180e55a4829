import { RdsIamError } from '@rds-iam/core';
import { messageOf } from '../errors.js';
import { type Minted, maskAccessKeyId } from '../mint.js';
import type { Check } from './check.js';

/** The `credentials` check after a token was minted: where they came from, and whether they outlive it. */
export function credentialsCheck(minted: Minted, source: string): Check {
  const { info } = minted;
  const credentialsExpireFirst = minted.expiresAt.getTime() < info.expiresAt.getTime();
  return {
    id: 'credentials',
    status: credentialsExpireFirst ? 'warn' : 'pass',
    detail: `from ${source}; access key ${maskAccessKeyId(info.accessKeyId)}, ${info.hasSessionToken ? 'temporary (session token)' : 'long-term key'}${credentialsExpireFirst ? `; they expire at ${minted.expiresAt.toISOString()}, before the token would` : ''}`,
    ...(credentialsExpireFirst
      ? {
          fix: 'tokens die with the credentials that signed them: use credentials that can be refreshed (a role, SSO) or a longer session',
        }
      : {}),
  };
}

/**
 * The `credentials` and `token` checks when no token could be minted: which of the two failed
 * follows from the error's code.
 */
export function mintFailureChecks(err: unknown, source: string): [Check, Check] {
  const code = err instanceof RdsIamError ? err.code : undefined;
  const message = messageOf(err);
  if (code === 'ERR_CREDENTIALS') {
    const expired = /expire/i.test(message);
    return [
      {
        id: 'credentials',
        status: 'fail',
        detail: `from ${source}: ${message}`,
        fix: expired
          ? 'the credentials are expired: refresh them (aws sso login, assume the role again, or export a new AWS_SESSION_TOKEN with AWS_CREDENTIAL_EXPIRATION), or unset the stale AWS_* variables'
          : 'give this process credentials: AWS_PROFILE (--profile), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or an instance / task / pod role',
      },
      { id: 'token', status: 'skip', detail: 'no credentials to sign with' },
    ];
  }
  if (code === 'ERR_CREDENTIALS_TIMEOUT') {
    return [
      {
        id: 'credentials',
        status: 'fail',
        detail: `from ${source}: ${message}`,
        fix: 'the credential source hangs: check that it is reachable from here (the ECS/EKS agent, instance metadata, SSO, STS), or raise --credentials-timeout if it is only slow',
      },
      { id: 'token', status: 'skip', detail: 'no credentials to sign with' },
    ];
  }
  if (code === 'ERR_REGION_NOT_FOUND') {
    return [
      { id: 'credentials', status: 'skip', detail: 'not resolved: no region to sign for' },
      {
        id: 'token',
        status: 'fail',
        detail: message,
        fix: "pass --region (the database's region), or --signing-host with the RDS endpoint name",
      },
    ];
  }
  return [
    { id: 'credentials', status: 'skip', detail: `from ${source}; not confirmed` },
    { id: 'token', status: 'fail', detail: message },
  ];
}
