import type { AuthTokenInfo } from '@rds-iam/core';
import type { ConnectionArgs } from '../args.js';
import type { Io } from '../io.js';
import { describeCredentialSource, formatDuration, type Minted, mintToken } from '../mint.js';
import type { Check } from './check.js';
import { credentialsCheck, mintFailureChecks } from './credentials.js';

/** The `token` check: the minted token decodes, and for how long it is good. */
export function tokenCheck(minted: Minted): Check {
  const { info } = minted;
  const left = minted.expiresAt.getTime() - Date.now();
  return {
    id: 'token',
    status: 'pass',
    detail: `minted and decodes: ${info.user}@${info.host}:${info.port} in ${info.region}, service ${info.service}, valid ${formatDuration(left)} (until ${minted.expiresAt.toISOString()})`,
  };
}

/** What minting gave the later checks, with the `credentials` and `token` checks it produced. */
export interface MintOutcome {
  checks: [Check, Check];
  token?: string;
  info?: AuthTokenInfo;
  /** The local clock when the mint started, which the `clock` check compares with the token's date. */
  mintedAt: number;
}

/** Mints one token as the integrations do and turns the outcome into the two checks. */
export async function mintChecks(
  args: ConnectionArgs,
  io: Io,
  credentialsTimeoutMs?: number,
): Promise<MintOutcome> {
  const source = describeCredentialSource(io.env, args.profile);
  const mintedAt = Date.now();
  try {
    const minted = await mintToken(args, credentialsTimeoutMs);
    return {
      checks: [credentialsCheck(minted, source), tokenCheck(minted)],
      token: minted.token,
      info: minted.info,
      mintedAt,
    };
  } catch (err) {
    return { checks: mintFailureChecks(err, source), mintedAt };
  }
}
