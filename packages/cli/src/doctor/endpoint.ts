import type { RdsEndpoint } from '@rds-iam/core';
import type { Check } from './check.js';

/** The `endpoint` check: what the signing host name says (kind, region) and whether --region agrees. */
export function endpointCheck(
  signingHost: string,
  host: string,
  endpoint: RdsEndpoint | undefined,
  region: string | undefined,
): Check {
  if (endpoint === undefined) {
    return {
      id: 'endpoint',
      status: 'pass',
      detail: `${signingHost} is not an RDS hostname (an IP, alias, tunnel or the emulator): the token names it as given and the region comes from ${region ? '--region' : 'AWS_REGION or the profile'}${signingHost === host ? '; through a tunnel or alias pass --signing-host <RDS endpoint>' : ''}`,
    };
  }
  const kinds: Record<string, string> = {
    instance: 'DB instance',
    cluster: 'Aurora cluster (writer) endpoint',
    'cluster-ro': 'Aurora reader endpoint (read-only)',
    'cluster-custom': 'Aurora custom endpoint',
    proxy: 'RDS Proxy endpoint',
    'proxy-endpoint': 'RDS Proxy additional endpoint',
    'shard-group': 'Aurora Limitless shard group',
  };
  const what = `${kinds[endpoint.kind] ?? endpoint.kind} '${endpoint.identifier}' in ${endpoint.region} (partition ${endpoint.partition})`;
  if (region !== undefined && region !== endpoint.region) {
    return {
      id: 'endpoint',
      status: 'fail',
      detail: `${what}, but --region is ${region}: the token would be signed for ${region} and RDS rejects it`,
      fix: `drop --region (the region comes from the hostname) or pass --region ${endpoint.region}`,
    };
  }
  return { id: 'endpoint', status: 'pass', detail: what };
}
