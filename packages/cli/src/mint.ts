import { isIP } from 'node:net';
import { type AuthTokenInfo, createTokenProvider, parseAuthToken } from '@rds-iam/core';
import type { ConnectionArgs } from './args.js';

/** A freshly minted token and what it says about itself. */
export interface Minted {
  readonly token: string;
  readonly info: AuthTokenInfo;
  /** The earlier of the token's expiry and the signing credentials' expiry. */
  readonly expiresAt: Date;
}

/**
 * Mints one token with the AWS SDK's default credential chain (or `--profile`), exactly as the
 * integrations do.
 *
 * @throws {RdsIamError} `ERR_CREDENTIALS`, `ERR_CREDENTIALS_TIMEOUT`, `ERR_REGION_NOT_FOUND`, `ERR_SIGNING`, `ERR_INVALID_*`.
 */
export async function mintToken(
  args: ConnectionArgs,
  credentialsTimeoutMs?: number,
): Promise<Minted> {
  const provider = createTokenProvider({
    host: args.host,
    port: args.port,
    user: args.user,
    // An IPv6 literal is written in brackets in the signed `host:port`, as in a URL.
    signingHost: isIP(args.signingHost) === 6 ? `[${args.signingHost}]` : args.signingHost,
    signingPort: args.signingPort,
    ...(args.engine ? { engine: args.engine } : {}),
    ...(args.region ? { region: args.region } : {}),
    ...(args.profile ? { profile: args.profile } : {}),
    ...(credentialsTimeoutMs !== undefined ? { credentialsTimeoutMs } : {}),
    // A one-shot command: any token that is still valid for a few seconds is worth printing.
    expiryMarginMs: 5_000,
    refreshAheadMs: 5_000,
  });
  try {
    const token = await provider.getToken();
    const info = parseAuthToken(token);
    const expiresAt = provider.peek()?.expiresAt ?? info.expiresAt;
    return { token, info, expiresAt };
  } finally {
    provider.close();
  }
}

export { maskAccessKeyId } from '@rds-iam/core';

/**
 * Where the SDK's default chain will most likely take credentials from, read from the environment
 * (the chain itself does not say). The order is the chain's.
 */
export function describeCredentialSource(env: NodeJS.ProcessEnv, profile?: string): string {
  if (profile) return `profile '${profile}' (--profile)`;
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return 'environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)';
  }
  if (env.AWS_PROFILE) return `profile '${env.AWS_PROFILE}' (AWS_PROFILE)`;
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE) return 'web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)';
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) {
    return 'container credentials endpoint (ECS / EKS Pod Identity)';
  }
  return "the default profile's shared files, SSO, or the instance metadata service";
}

/** `14m 59s`, `3s`, `-2m 05s` for a duration in ms. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const total = Math.floor(Math.abs(ms) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${sign}${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${sign}${m}m ${String(s).padStart(2, '0')}s`;
  return `${sign}${s}s`;
}
