import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { nodeOs } from './builtins.js';
import {
  containerEndpoint,
  describeEndpoint,
  fetchContainerCredentials,
} from './container-credentials.js';
import type { AwsCredentials, AwsCredentialsProvider } from './credentials.js';
import { environmentCredentials, environmentWins } from './env-credentials.js';

/** One way of getting credentials, as a credential source calls it. */
export interface CredentialFetcher {
  /** Names the source in messages: "the environment (AWS_ACCESS_KEY_ID)", an endpoint, a chain. */
  readonly describe: string;
  /**
   * Whether an abandoned request stays pending inside it, so the next attempt needs a fresh fetcher
   * (the SDK's chain memoizes its pending request and would hand the hung one out again).
   */
  readonly sticky: boolean;
  fetch(forceRefresh: boolean, signal: AbortSignal): Promise<AwsCredentials>;
}

/** A fetcher around any SDK-style provider function. */
export function providerFetcher(
  provider: AwsCredentialsProvider,
  describe: string,
  sticky: boolean,
): CredentialFetcher {
  return {
    describe,
    sticky,
    fetch: (forceRefresh) => provider(forceRefresh ? { forceRefresh } : undefined),
  };
}

/** Whether a shared config or credentials file exists: a profile there comes before the container. */
function sharedFilesExist(env: NodeJS.ProcessEnv): boolean {
  const aws = join(nodeOs().homedir(), '.aws');
  return (
    existsSync(env.AWS_CONFIG_FILE || join(aws, 'config')) ||
    existsSync(env.AWS_SHARED_CREDENTIALS_FILE || join(aws, 'credentials'))
  );
}

/**
 * The default credential chain, loading no more of it than the environment calls for. The SDK's chain
 * asks, in order: environment keys, shared files (profiles, SSO, process), web identity, then the
 * container endpoint and instance metadata. When the first answer is certain without the SDK, it is
 * taken directly:
 * - environment keys and no profile (Lambda): read them, load nothing;
 * - only a container endpoint (ECS, EKS Pod Identity; no profile, no shared files, no web identity):
 *   one request, abortable at the deadline and never keeping the process up by itself.
 * Anything else goes to the SDK's chain, loaded on first use.
 */
export async function defaultChain(
  profile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CredentialFetcher> {
  if (environmentWins(profile, env)) {
    return {
      describe: 'the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)',
      sticky: false,
      fetch: async () => {
        const credentials = environmentCredentials(env);
        if (!credentials)
          throw new Error('AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are no longer set');
        return credentials;
      },
    };
  }
  const endpoint = containerEndpoint(env);
  if (
    endpoint &&
    !profile &&
    !env.AWS_PROFILE &&
    !env.AWS_WEB_IDENTITY_TOKEN_FILE &&
    !sharedFilesExist(env)
  ) {
    return {
      describe: describeEndpoint(endpoint),
      sticky: false,
      fetch: (_forceRefresh, signal) => fetchContainerCredentials(endpoint, signal, env),
    };
  }
  // Loaded on first use: the SDK is most of our cold-start cost and many processes never mint.
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
  return providerFetcher(
    defaultProvider(profile ? { profile } : {}) as AwsCredentialsProvider,
    `the AWS SDK default credential chain${profile ? ` (profile '${profile}')` : ''}`,
    true,
  );
}
