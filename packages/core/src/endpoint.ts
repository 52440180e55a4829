/**
 * What an RDS hostname points at.
 *
 * - `instance`: one DB instance, `NAME.XXXX.REGION.rds.amazonaws.com`
 * - `cluster`: an Aurora cluster's writer, `NAME.cluster-XXXX.REGION.rds.amazonaws.com`
 * - `cluster-ro`: an Aurora cluster's readers, `NAME.cluster-ro-XXXX...`
 * - `cluster-custom`: an Aurora custom endpoint, `NAME.cluster-custom-XXXX...`
 * - `proxy`: an RDS Proxy's default endpoint, `NAME.proxy-XXXX...`
 * - `proxy-endpoint`: an additional RDS Proxy endpoint, `NAME.endpoint.proxy-XXXX...`
 * - `shard-group`: an Aurora PostgreSQL Limitless DB shard group, `NAME.shardgrp-XXXX...`
 *
 * @example
 * ```ts
 * const kind: RdsEndpointKind | undefined = parseRdsEndpoint(host)?.kind;
 * if (kind === 'cluster-ro') console.warn('connected to a reader: writes will fail');
 * ```
 */
export type RdsEndpointKind =
  | 'instance'
  | 'cluster'
  | 'cluster-ro'
  | 'cluster-custom'
  | 'proxy'
  | 'proxy-endpoint'
  | 'shard-group';

/**
 * An RDS, Aurora or RDS Proxy hostname taken apart. Everything in it comes from the name alone: no DNS
 * lookup and no AWS call.
 *
 * @example
 * ```ts
 * const endpoint: RdsEndpoint | undefined = parseRdsEndpoint(
 *   'orders.cluster-ro-c9akciq32xyz.eu-west-1.rds.amazonaws.com',
 * );
 * // { hostname: 'orders.cluster-ro-c9akciq32xyz.eu-west-1.rds.amazonaws.com', identifier: 'orders',
 * //   region: 'eu-west-1', partition: 'aws', dnsSuffix: 'amazonaws.com', kind: 'cluster-ro' }
 * ```
 */
export interface RdsEndpoint {
  /** The hostname, lower-cased and without a trailing dot. */
  hostname: string;
  /**
   * The name the resource was given: the DB instance, cluster, custom endpoint, proxy, proxy endpoint
   * or shard group identifier (the first label).
   */
  identifier: string;
  /** The AWS region, for example `us-east-1`; this is the region a token must be signed for. */
  region: string;
  /** The AWS partition the region belongs to. */
  partition:
    | 'aws'
    | 'aws-cn'
    | 'aws-us-gov'
    | 'aws-iso'
    | 'aws-iso-b'
    | 'aws-iso-e'
    | 'aws-iso-f'
    | 'aws-eusc'
    // Keeps the known names in editor completion while leaving room for partitions added later.
    | (string & Record<never, never>);
  /** The partition's DNS suffix, for example `amazonaws.com` or `amazonaws.com.cn`. */
  dnsSuffix: string;
  /** What the endpoint points at. */
  kind: RdsEndpointKind;
}

interface Partition {
  id: string;
  dnsSuffix: string;
  /** Whether a region name belongs to this partition. */
  owns: (region: string) => boolean;
}

// Region prefixes that the SDK's partition table (`@aws-sdk/util-endpoints`) reserves for a partition
// other than `aws`. A region named like one of these under `amazonaws.com` is not a real endpoint.
const NOT_COMMERCIAL = /^(?:cn|eusc|us-gov|us-iso[a-z]?|eu-iso[a-z]?)-/;

// Suffixes and region shapes from the SDK's partition table. Longest suffix first so that
// `amazonaws.com.cn` is not read as `amazonaws.com`. `amazonaws.com` is shared by `aws` and
// `aws-us-gov`; the region tells them apart.
const PARTITIONS: readonly Partition[] = [
  { id: 'aws-cn', dnsSuffix: 'amazonaws.com.cn', owns: (r) => r.startsWith('cn-') },
  { id: 'aws-iso-f', dnsSuffix: 'csp.hci.ic.gov', owns: (r) => r.startsWith('us-isof-') },
  { id: 'aws-iso-b', dnsSuffix: 'sc2s.sgov.gov', owns: (r) => r.startsWith('us-isob-') },
  { id: 'aws-iso-e', dnsSuffix: 'cloud.adc-e.uk', owns: (r) => r.startsWith('eu-isoe-') },
  { id: 'aws-iso', dnsSuffix: 'c2s.ic.gov', owns: (r) => r.startsWith('us-iso-') },
  { id: 'aws-eusc', dnsSuffix: 'amazonaws.eu', owns: (r) => r.startsWith('eusc-') },
  { id: 'aws-us-gov', dnsSuffix: 'amazonaws.com', owns: (r) => r.startsWith('us-gov-') },
  { id: 'aws', dnsSuffix: 'amazonaws.com', owns: (r) => !NOT_COMMERCIAL.test(r) },
];

/**
 * The AWS partition a region belongs to, from its name alone (no region list, so a region launched
 * tomorrow works): `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, the ISO and EUSC partitions by
 * their prefixes, else `aws`. ARNs need it (`arn:PARTITION:rds-db:...`).
 *
 * @example
 * ```ts
 * partitionOfRegion('cn-northwest-1'); // 'aws-cn'
 * partitionOfRegion('eu-west-1'); // 'aws'
 * ```
 */
export function partitionOfRegion(region: string): string {
  return PARTITIONS.find((p) => p.owns(region))?.id ?? 'aws';
}

// Recognised by shape, not from a list, so a region launched after this release still parses.
// `eusc-de-east-1` has a four-letter first part.
const REGION = /^[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}$/;

// One DNS label as RDS generates it: identifiers are letters, digits and hyphens, never at either end.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

// The second label: a prefix naming the kind, then the random part RDS assigns per account and region.
const KIND_LABEL: readonly (readonly [RegExp, RdsEndpointKind])[] = [
  [/^cluster-ro-[a-z0-9]+$/, 'cluster-ro'],
  [/^cluster-custom-[a-z0-9]+$/, 'cluster-custom'],
  [/^cluster-[a-z0-9]+$/, 'cluster'],
  [/^proxy-[a-z0-9]+$/, 'proxy'],
  [/^shardgrp-[a-z0-9]+$/, 'shard-group'],
  [/^[a-z0-9]+$/, 'instance'],
];

const PROXY_LABEL = /^proxy-[a-z0-9]+$/;

/**
 * Reads the region, partition and kind from an RDS, Aurora or RDS Proxy hostname, so a token can be
 * signed for the right region without configuration. Returns `undefined` for anything else (IP
 * addresses, `localhost`, CNAMEs, look-alikes such as `rds.amazonaws.com.evil.com`): the caller then
 * needs a configured region.
 *
 * Accepts upper case and one trailing dot; the region is recognised by its shape, so new regions work.
 * Both label orders RDS uses are accepted: `XXXX.REGION.rds.SUFFIX` and `XXXX.rds.REGION.SUFFIX` (China,
 * GovCloud and ISO). Aurora global database writer endpoints (`NAME.global-XXXX.global.rds...`) name no
 * region and give `undefined`.
 *
 * @example
 * ```ts
 * parseRdsEndpoint('mydb.c9akciq32xyz.us-east-1.rds.amazonaws.com')?.region; // 'us-east-1'
 * parseRdsEndpoint('app.proxy-abc123.cn-north-1.rds.amazonaws.com.cn')?.partition; // 'aws-cn'
 * parseRdsEndpoint('db.internal.example.com'); // undefined
 * ```
 */
export function parseRdsEndpoint(host: string): RdsEndpoint | undefined {
  if (typeof host !== 'string' || host.length === 0 || host.length > 254) return undefined;
  const hostname = (host.endsWith('.') ? host.slice(0, -1) : host).toLowerCase();
  const partitions = PARTITIONS.filter((p) => hostname.endsWith(`.${p.dnsSuffix}`));
  const first = partitions[0];
  if (first === undefined) return undefined;

  const labels = hostname.slice(0, -(first.dnsSuffix.length + 1)).split('.');
  if (!labels.every((label) => LABEL.test(label))) return undefined;

  // The two labels before the suffix are the region and `rds`, in either order.
  const [a, b] = labels.slice(-2);
  const region = b === 'rds' ? a : a === 'rds' ? b : undefined;
  if (region === undefined || !REGION.test(region)) return undefined;

  const partition = partitions.find((p) => p.owns(region));
  if (partition === undefined) return undefined;

  const found = classify(labels.slice(0, -2));
  if (found === undefined) return undefined;
  return {
    hostname,
    identifier: found.identifier,
    region,
    partition: partition.id,
    dnsSuffix: partition.dnsSuffix,
    kind: found.kind,
  };
}

function classify(
  labels: readonly string[],
): { identifier: string; kind: RdsEndpointKind } | undefined {
  const [identifier, second, third] = labels;
  if (identifier === undefined || second === undefined) return undefined;
  if (labels.length === 3 && second === 'endpoint' && third !== undefined) {
    return PROXY_LABEL.test(third) ? { identifier, kind: 'proxy-endpoint' } : undefined;
  }
  if (labels.length !== 2) return undefined;
  const kind = KIND_LABEL.find(([pattern]) => pattern.test(second))?.[1];
  return kind === undefined ? undefined : { identifier, kind };
}
