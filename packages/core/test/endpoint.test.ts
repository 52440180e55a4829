import { describe, expect, it } from 'vitest';
import { parseRdsEndpoint, partitionOfRegion, type RdsEndpoint } from '../src/endpoint.js';

type Expected = Omit<RdsEndpoint, 'hostname'> & { hostname?: string };

const aws = { partition: 'aws', dnsSuffix: 'amazonaws.com' } as const;
const cn = { partition: 'aws-cn', dnsSuffix: 'amazonaws.com.cn' } as const;
const gov = { partition: 'aws-us-gov', dnsSuffix: 'amazonaws.com' } as const;

const endpoints: [string, Expected][] = [
  [
    'mydb.c9akciq32xyz.us-east-1.rds.amazonaws.com',
    { identifier: 'mydb', region: 'us-east-1', kind: 'instance', ...aws },
  ],
  [
    'test-postgres-instance-1.123456789012.us-east-2.rds.amazonaws.com',
    { identifier: 'test-postgres-instance-1', region: 'us-east-2', kind: 'instance', ...aws },
  ],
  [
    'orders.cluster-c9akciq32xyz.eu-west-1.rds.amazonaws.com',
    { identifier: 'orders', region: 'eu-west-1', kind: 'cluster', ...aws },
  ],
  [
    'orders.cluster-ro-c9akciq32xyz.eu-west-1.rds.amazonaws.com',
    { identifier: 'orders', region: 'eu-west-1', kind: 'cluster-ro', ...aws },
  ],
  [
    'reporting.cluster-custom-c9akciq32xyz.ap-southeast-2.rds.amazonaws.com',
    { identifier: 'reporting', region: 'ap-southeast-2', kind: 'cluster-custom', ...aws },
  ],
  [
    'app-proxy.proxy-c9akciq32xyz.us-west-2.rds.amazonaws.com',
    { identifier: 'app-proxy', region: 'us-west-2', kind: 'proxy', ...aws },
  ],
  [
    'readers.endpoint.proxy-c9akciq32xyz.us-west-2.rds.amazonaws.com',
    { identifier: 'readers', region: 'us-west-2', kind: 'proxy-endpoint', ...aws },
  ],
  [
    'limitless.shardgrp-c9akciq32xyz.us-east-1.rds.amazonaws.com',
    { identifier: 'limitless', region: 'us-east-1', kind: 'shard-group', ...aws },
  ],
  [
    'mydb-green-abc123.c9akciq32xyz.ca-central-1.rds.amazonaws.com',
    { identifier: 'mydb-green-abc123', region: 'ca-central-1', kind: 'instance', ...aws },
  ],
  // A region that does not exist yet: recognised by its shape.
  [
    'mydb.abc123.ap-southeast-9.rds.amazonaws.com',
    { identifier: 'mydb', region: 'ap-southeast-9', kind: 'instance', ...aws },
  ],
  [
    'mydb.abc123.xy-newplace-12.rds.amazonaws.com',
    { identifier: 'mydb', region: 'xy-newplace-12', kind: 'instance', ...aws },
  ],
  // Upper case and a trailing dot.
  [
    'MyDB.C9AKCIQ32XYZ.US-EAST-1.RDS.AMAZONAWS.COM',
    {
      hostname: 'mydb.c9akciq32xyz.us-east-1.rds.amazonaws.com',
      identifier: 'mydb',
      region: 'us-east-1',
      kind: 'instance',
      ...aws,
    },
  ],
  [
    'orders.cluster-abc.eu-central-1.rds.amazonaws.com.',
    {
      hostname: 'orders.cluster-abc.eu-central-1.rds.amazonaws.com',
      identifier: 'orders',
      region: 'eu-central-1',
      kind: 'cluster',
      ...aws,
    },
  ],
  // China: both the current `rds.REGION` and the older `REGION.rds` layout.
  [
    'test-postgres.cluster-123456789012.rds.cn-northwest-1.amazonaws.com.cn',
    { identifier: 'test-postgres', region: 'cn-northwest-1', kind: 'cluster', ...cn },
  ],
  [
    'mydb.abc123.rds.cn-north-1.amazonaws.com.cn',
    { identifier: 'mydb', region: 'cn-north-1', kind: 'instance', ...cn },
  ],
  [
    'mydb.abc123.cn-north-1.rds.amazonaws.com.cn',
    { identifier: 'mydb', region: 'cn-north-1', kind: 'instance', ...cn },
  ],
  [
    'app.proxy-abc123.cn-north-1.rds.amazonaws.com.cn',
    { identifier: 'app', region: 'cn-north-1', kind: 'proxy', ...cn },
  ],
  [
    'ro.endpoint.proxy-abc123.rds.cn-northwest-1.amazonaws.com.cn',
    { identifier: 'ro', region: 'cn-northwest-1', kind: 'proxy-endpoint', ...cn },
  ],
  // GovCloud, in both layouts.
  [
    'mydb.abc123.us-gov-west-1.rds.amazonaws.com',
    { identifier: 'mydb', region: 'us-gov-west-1', kind: 'instance', ...gov },
  ],
  [
    'orders.cluster-ro-abc123.rds.us-gov-east-1.amazonaws.com',
    { identifier: 'orders', region: 'us-gov-east-1', kind: 'cluster-ro', ...gov },
  ],
  // The service-first layout in a commercial region.
  [
    'mydb.abc123.rds.us-east-1.amazonaws.com',
    { identifier: 'mydb', region: 'us-east-1', kind: 'instance', ...aws },
  ],
  // ISO partitions and the European Sovereign Cloud (suffixes from the SDK's partition table).
  [
    'mydb.abc123.rds.us-iso-east-1.c2s.ic.gov',
    {
      identifier: 'mydb',
      region: 'us-iso-east-1',
      kind: 'instance',
      partition: 'aws-iso',
      dnsSuffix: 'c2s.ic.gov',
    },
  ],
  [
    'orders.cluster-abc123.rds.us-isob-east-1.sc2s.sgov.gov',
    {
      identifier: 'orders',
      region: 'us-isob-east-1',
      kind: 'cluster',
      partition: 'aws-iso-b',
      dnsSuffix: 'sc2s.sgov.gov',
    },
  ],
  [
    'mydb.abc123.eu-isoe-west-1.rds.cloud.adc-e.uk',
    {
      identifier: 'mydb',
      region: 'eu-isoe-west-1',
      kind: 'instance',
      partition: 'aws-iso-e',
      dnsSuffix: 'cloud.adc-e.uk',
    },
  ],
  [
    'mydb.abc123.us-isof-south-1.rds.csp.hci.ic.gov',
    {
      identifier: 'mydb',
      region: 'us-isof-south-1',
      kind: 'instance',
      partition: 'aws-iso-f',
      dnsSuffix: 'csp.hci.ic.gov',
    },
  ],
  [
    'mydb.abc123.eusc-de-east-1.rds.amazonaws.eu',
    {
      identifier: 'mydb',
      region: 'eusc-de-east-1',
      kind: 'instance',
      partition: 'aws-eusc',
      dnsSuffix: 'amazonaws.eu',
    },
  ],
];

const notEndpoints: [string, unknown][] = [
  ['empty', ''],
  ['localhost', 'localhost'],
  ['IPv4', '10.0.1.17'],
  ['IPv6', '::1'],
  ['bracketed IPv6', '[2001:db8::1]'],
  ['a CNAME of our own', 'db.internal.example.com'],
  ['suffix followed by another domain', 'rds.amazonaws.com.evil.com'],
  ['endpoint followed by another domain', 'x.abc.us-east-1.rds.amazonaws.com.attacker.net'],
  ['label merely ending in rds', 'evil-rds.amazonaws.com'],
  ['look-alike region label', 'mydb.abc.us-east-1-rds.amazonaws.com'],
  ['the bare service suffix', 'us-east-1.rds.amazonaws.com'],
  ['no random part', 'mydb.us-east-1.rds.amazonaws.com'],
  ['another service', 'mydb.abc123.us-east-1.s3.amazonaws.com'],
  ['region without a number', 'mydb.abc123.us-east.rds.amazonaws.com'],
  ['region without dashes', 'mydb.abc123.useast1.rds.amazonaws.com'],
  ['China region under the commercial suffix', 'mydb.abc123.cn-north-1.rds.amazonaws.com'],
  ['commercial region under the China suffix', 'mydb.abc123.us-east-1.rds.amazonaws.com.cn'],
  ['ISO region under the commercial suffix', 'mydb.abc123.us-iso-east-1.rds.amazonaws.com'],
  ['unknown kind prefix', 'mydb.cluster-xx-abc123.us-east-1.rds.amazonaws.com'],
  ['too many labels', 'a.b.c.abc123.us-east-1.rds.amazonaws.com'],
  ['proxy endpoint on a cluster', 'ro.endpoint.cluster-abc123.us-east-1.rds.amazonaws.com'],
  ['empty label', 'mydb..us-east-1.rds.amazonaws.com'],
  ['label starting with a hyphen', '-mydb.abc123.us-east-1.rds.amazonaws.com'],
  ['host with a port', 'mydb.abc123.us-east-1.rds.amazonaws.com:5432'],
  ['URL', 'https://mydb.abc123.us-east-1.rds.amazonaws.com/'],
  ['user info', 'user@mydb.abc123.us-east-1.rds.amazonaws.com'],
  ['whitespace', ' mydb.abc123.us-east-1.rds.amazonaws.com'],
  ['two trailing dots', 'mydb.abc123.us-east-1.rds.amazonaws.com..'],
  ['global database writer (no region)', 'gdb.global-abc123.global.rds.amazonaws.com'],
  ['a number', 5432],
  ['null', null],
  ['undefined', undefined],
];

describe('parseRdsEndpoint', () => {
  it.each(endpoints)('parses %s', (host, expected) => {
    const hostname = expected.hostname ?? host;
    expect(parseRdsEndpoint(host)).toEqual({ ...expected, hostname });
  });

  it.each(notEndpoints)('returns undefined for %s', (_, host) => {
    expect(parseRdsEndpoint(host as string)).toBeUndefined();
  });

  it('covers every kind and partition in its table', () => {
    const parsed = endpoints.map(([host]) => parseRdsEndpoint(host));
    expect(new Set(parsed.map((e) => e?.kind))).toEqual(
      new Set([
        'instance',
        'cluster',
        'cluster-ro',
        'cluster-custom',
        'proxy',
        'proxy-endpoint',
        'shard-group',
      ]),
    );
    expect(new Set(parsed.map((e) => e?.partition))).toEqual(
      new Set([
        'aws',
        'aws-cn',
        'aws-us-gov',
        'aws-iso',
        'aws-iso-b',
        'aws-iso-e',
        'aws-iso-f',
        'aws-eusc',
      ]),
    );
  });

  it('rejects labels longer than DNS allows', () => {
    expect(parseRdsEndpoint(`${'a'.repeat(63)}.abc.us-east-1.rds.amazonaws.com`)?.kind).toBe(
      'instance',
    );
    expect(parseRdsEndpoint(`${'a'.repeat(64)}.abc.us-east-1.rds.amazonaws.com`)).toBeUndefined();
    expect(parseRdsEndpoint(`mydb.${'a'.repeat(300)}.us-east-1.rds.amazonaws.com`)).toBeUndefined();
  });
});

describe('partitionOfRegion', () => {
  it('maps every partition by the region name alone, a new commercial region included', () => {
    const table: Array<[string, string]> = [
      ['us-east-1', 'aws'],
      ['ap-southeast-9', 'aws'],
      ['cn-northwest-1', 'aws-cn'],
      ['us-gov-west-1', 'aws-us-gov'],
      ['us-iso-east-1', 'aws-iso'],
      ['us-isob-east-1', 'aws-iso-b'],
      ['us-isof-south-1', 'aws-iso-f'],
      ['eu-isoe-west-1', 'aws-iso-e'],
      ['eusc-de-east-1', 'aws-eusc'],
    ];
    for (const [region, partition] of table)
      expect([region, partitionOfRegion(region)]).toEqual([region, partition]);
  });
});
