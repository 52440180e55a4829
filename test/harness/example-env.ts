import type { IamEndpoint } from './endpoint.js';
import type { IamUser } from './users.js';

/**
 * The `RDS_*` and AWS variables an example reads (its README's configuration), pointing it at `iam`
 * as a tunnel to an RDS endpoint would: dial the emulator, sign for the endpoint name, trust `caFile`.
 *
 * @example
 * ```ts
 * const run = await runExample('core-pg', exampleEnv(iam, app, caFile));
 * ```
 */
export function exampleEnv(
  iam: IamEndpoint,
  user: Pick<IamUser, 'user' | 'database'>,
  caFile: string,
): Record<string, string> {
  return {
    RDS_HOST: iam.host,
    RDS_PORT: String(iam.port),
    RDS_USER: user.user,
    RDS_DATABASE: user.database ?? '',
    RDS_REGION: iam.region,
    RDS_SIGNING_HOST: iam.endpoint.host,
    RDS_SIGNING_PORT: String(iam.endpoint.port),
    RDS_CA_FILE: caFile,
    AWS_ACCESS_KEY_ID: iam.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: iam.credentials.secretAccessKey,
  };
}
