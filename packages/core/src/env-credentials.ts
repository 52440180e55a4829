import type { AwsCredentials } from './credentials.js';

/**
 * Credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (`AWS_SESSION_TOKEN`,
 * `AWS_CREDENTIAL_EXPIRATION`), as the SDK's environment provider reads them, or `undefined` when the
 * environment holds none. This is what Lambda gives a function, so when it is there nothing else of
 * the default chain needs to load.
 */
export function environmentCredentials(
  env: NodeJS.ProcessEnv = process.env,
): AwsCredentials | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  const expiration = env.AWS_CREDENTIAL_EXPIRATION
    ? new Date(env.AWS_CREDENTIAL_EXPIRATION)
    : undefined;
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    ...(expiration && Number.isFinite(expiration.getTime()) ? { expiration } : {}),
  };
}

/**
 * Whether the SDK's default chain would take the environment's keys: they are set and no profile is
 * asked for (with `AWS_PROFILE` set, the chain skips the environment's keys and reads the profile).
 */
export function environmentWins(profile: string | undefined, env = process.env): boolean {
  return !profile && !env.AWS_PROFILE && environmentCredentials(env) !== undefined;
}
