import { parseRdsEndpoint } from './endpoint.js';
import { RdsIamError } from './errors.js';

/**
 * The signing region: the option, the region in an RDS hostname, the environment, then the region of
 * the shared-config profile. Reads files but makes no network call.
 */
export async function resolveRegion(
  region: string | undefined,
  signingHost: string,
  profile: string | undefined,
): Promise<string> {
  if (region) return region;
  const fromHost = parseRdsEndpoint(signingHost)?.region;
  if (fromHost) return fromHost;
  const fromEnv = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION;
  if (fromEnv) return fromEnv;
  const { loadSharedConfigFiles } = await import('@smithy/core/config');
  const name = profile ?? process.env.AWS_PROFILE ?? 'default';
  const { configFile } = await loadSharedConfigFiles({ ignoreCache: true });
  const fromProfile = configFile[name]?.region;
  if (fromProfile) return fromProfile;
  throw new RdsIamError(
    'ERR_REGION_NOT_FOUND',
    `rds-iam: no signing region for '${signingHost}': it is not an RDS hostname, and neither \`region\`, AWS_REGION nor the '${name}' profile sets one. Pass \`region\` (e.g. 'us-east-1'), or \`signingHost\` with the RDS endpoint name when you dial a tunnel or alias.`,
  );
}
