import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBuilt,
  cleanEnv,
  DEMO_ENV,
  json,
  type QueryApiStandIn,
  rdsIam,
  removeScratch,
  startQueryApiStandIn,
} from './helpers.js';

beforeAll(assertBuilt);
afterAll(removeScratch);

interface Policy {
  Version: string;
  Statement: { Effect: string; Action: string; Resource: string[] }[];
}

describe.concurrent('policy from ids', () => {
  it('grants rds-db:connect on the documented ARN for an instance', async () => {
    const r = await rdsIam([
      'policy',
      '--region',
      'us-east-2',
      '--account',
      '123456789012',
      '--resource-id',
      'db-ABCDEFGHIJKL01234',
      '--user',
      'db_user',
    ]);
    expect(r.code).toBe(0);
    // The example of the RDS user guide ("Creating and using an IAM policy for IAM database access").
    expect(JSON.parse(r.stdout)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'rds-db:connect',
          Resource: ['arn:aws:rds-db:us-east-2:123456789012:dbuser:db-ABCDEFGHIJKL01234/db_user'],
        },
      ],
    });
    expect(r.stdout).toContain('\n  "Version"'); // pretty-printed for humans
  });

  it('Aurora cluster resource ids and several users', async () => {
    const r = await rdsIam([
      'policy',
      '--json',
      '--region',
      'eu-west-1',
      '--account',
      '123456789012',
      '--resource-id',
      'cluster-CO4FHMOYDKJ7CVBEJS2UWDQX7I',
      '--user',
      'app',
      '--user',
      'reporting',
      '--user',
      'app',
    ]);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(json<Policy>(r.stdout).Statement[0]?.Resource).toEqual([
      'arn:aws:rds-db:eu-west-1:123456789012:dbuser:cluster-CO4FHMOYDKJ7CVBEJS2UWDQX7I/app',
      'arn:aws:rds-db:eu-west-1:123456789012:dbuser:cluster-CO4FHMOYDKJ7CVBEJS2UWDQX7I/reporting',
    ]);
  });

  it.each([
    ['cn-north-1', 'aws-cn'],
    ['cn-northwest-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
    ['us-gov-east-1', 'aws-us-gov'],
    ['ap-southeast-7', 'aws'],
  ])('region %s is in partition %s', async (region, partition) => {
    const r = await rdsIam([
      'policy',
      '--json',
      '--region',
      region,
      '--account',
      '123456789012',
      '--resource-id',
      'db-ABC123',
      '--user',
      'app',
    ]);
    expect(json<Policy>(r.stdout).Statement[0]?.Resource).toEqual([
      `arn:${partition}:rds-db:${region}:123456789012:dbuser:db-ABC123/app`,
    ]);
  });

  it('RDS Proxy ids and wildcards', async () => {
    const r = await rdsIam([
      'policy',
      '--json',
      '--region',
      'us-east-1',
      '--account',
      '123456789012',
      '--resource-id',
      'prx-0123456789abcdef0',
      '--user',
      '*',
    ]);
    expect(json<Policy>(r.stdout).Statement[0]?.Resource).toEqual([
      'arn:aws:rds-db:us-east-1:123456789012:dbuser:prx-0123456789abcdef0/*',
    ]);
  });

  it('refuses an instance name as resource id, with the fix', async () => {
    const r = await rdsIam([
      'policy',
      '--region',
      'us-east-1',
      '--account',
      '123456789012',
      '--resource-id',
      'orders-db',
      '--user',
      'app',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--resource-id must look like db-XXXX .* use --instance orders-db/);
  });

  it('refuses a bad account id', async () => {
    const r = await rdsIam([
      'policy',
      '--region',
      'us-east-1',
      '--account',
      '1234',
      '--resource-id',
      'db-A',
      '--user',
      'app',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--account must be a 12-digit AWS account id/);
  });
});

describe('policy --instance / --cluster, against a loopback RDS API stand-in', () => {
  let standIn: QueryApiStandIn;
  let endpoint: string;
  const requests: URLSearchParams[] = [];

  const instanceXml = (id: string, iam: boolean): string => `<?xml version="1.0" encoding="UTF-8"?>
<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBInstancesResult>
    <DBInstances>
      <DBInstance>
        <DBInstanceIdentifier>${id}</DBInstanceIdentifier>
        <Engine>postgres</Engine>
        <DbiResourceId>db-ABCDEFGHIJKL01234</DbiResourceId>
        <DBInstanceArn>arn:aws:rds:eu-west-1:210987654321:db:${id}</DBInstanceArn>
        <IAMDatabaseAuthenticationEnabled>${iam}</IAMDatabaseAuthenticationEnabled>
      </DBInstance>
    </DBInstances>
  </DescribeDBInstancesResult>
  <ResponseMetadata><RequestId>5e8d6f4a-0000-4000-8000-000000000001</RequestId></ResponseMetadata>
</DescribeDBInstancesResponse>`;

  const clusterXml = (id: string): string => `<?xml version="1.0" encoding="UTF-8"?>
<DescribeDBClustersResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBClustersResult>
    <DBClusters>
      <DBCluster>
        <DBClusterIdentifier>${id}</DBClusterIdentifier>
        <DbClusterResourceId>cluster-CO4FHMOYDKJ7CVBEJS2UWDQX7I</DbClusterResourceId>
        <DBClusterArn>arn:aws-cn:rds:cn-north-1:210987654321:cluster:${id}</DBClusterArn>
        <IAMDatabaseAuthenticationEnabled>true</IAMDatabaseAuthenticationEnabled>
      </DBCluster>
    </DBClusters>
  </DescribeDBClustersResult>
  <ResponseMetadata><RequestId>5e8d6f4a-0000-4000-8000-000000000002</RequestId></ResponseMetadata>
</DescribeDBClustersResponse>`;

  const notFoundXml = (id: string): string => `<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <Error><Type>Sender</Type><Code>DBInstanceNotFound</Code><Message>DBInstance ${id} not found.</Message></Error>
  <RequestId>5e8d6f4a-0000-4000-8000-000000000003</RequestId>
</ErrorResponse>`;

  beforeAll(async () => {
    standIn = await startQueryApiStandIn((params) => {
      requests.push(params);
      const action = params.get('Action');
      const instance = params.get('DBInstanceIdentifier') ?? '';
      if (action === 'DescribeDBInstances' && instance.startsWith('missing')) {
        return { status: 404, xml: notFoundXml(instance) };
      }
      if (action === 'DescribeDBInstances') {
        return { xml: instanceXml(instance, !instance.startsWith('noiam')) };
      }
      if (action === 'DescribeDBClusters') {
        return { xml: clusterXml(params.get('DBClusterIdentifier') ?? '') };
      }
      return {
        status: 400,
        xml: '<ErrorResponse><Error><Code>InvalidAction</Code><Message>no</Message></Error></ErrorResponse>',
      };
    });
    endpoint = standIn.endpoint;
  });
  afterAll(() => standIn.close());

  const env = cleanEnv({ ...DEMO_ENV, AWS_REGION: 'eu-west-1' });

  it('DescribeDBInstances -> DbiResourceId, with account and region from the ARN', async () => {
    const r = await rdsIam(
      ['policy', '--instance', 'orders', '--user', 'app', '--json', '--endpoint-url', endpoint],
      { env },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(json<Policy>(r.stdout).Statement[0]?.Resource).toEqual([
      'arn:aws:rds-db:eu-west-1:210987654321:dbuser:db-ABCDEFGHIJKL01234/app',
    ]);
    const request = requests.find((p) => p.get('DBInstanceIdentifier') === 'orders');
    expect(request?.get('Action')).toBe('DescribeDBInstances');
    expect(request?.get('Version')).toBe('2014-10-31');
  });

  it('DescribeDBClusters -> DbClusterResourceId, through AWS_ENDPOINT_URL_RDS', async () => {
    const r = await rdsIam(
      ['policy', '--cluster', 'analytics', '--user', 'app', '--user', 'etl', '--json'],
      {
        env: { ...env, AWS_ENDPOINT_URL_RDS: endpoint, AWS_REGION: 'cn-north-1' },
      },
    );
    expect(r.code).toBe(0);
    expect(json<Policy>(r.stdout).Statement[0]?.Resource).toEqual([
      'arn:aws-cn:rds-db:cn-north-1:210987654321:dbuser:cluster-CO4FHMOYDKJ7CVBEJS2UWDQX7I/app',
      'arn:aws-cn:rds-db:cn-north-1:210987654321:dbuser:cluster-CO4FHMOYDKJ7CVBEJS2UWDQX7I/etl',
    ]);
    expect(requests.find((p) => p.get('DBClusterIdentifier') === 'analytics')?.get('Action')).toBe(
      'DescribeDBClusters',
    );
  });

  it('policy check --instance looks up the same ARN, and passes what policy --instance printed', async () => {
    const args = ['--instance', 'orders', '--user', 'app', '--endpoint-url', endpoint];
    const printed = await rdsIam(['policy', ...args], { env });
    const r = await rdsIam(['policy', 'check', '--json', '--policy-file', '-', ...args], {
      env,
      input: printed.stdout,
    });
    expect(r.code).toBe(0);
    expect(json<{ decision: string; resource: string }>(r.stdout)).toMatchObject({
      decision: 'allow',
      resource: 'arn:aws:rds-db:eu-west-1:210987654321:dbuser:db-ABCDEFGHIJKL01234/app',
    });
  });

  it('warns when IAM database authentication is off', async () => {
    const r = await rdsIam(
      ['policy', '--instance', 'noiam-db', '--user', 'app', '--endpoint-url', endpoint],
      { env },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /^warning: IAM database authentication is not enabled on arn:aws:rds:eu-west-1:210987654321:db:noiam-db: .*modify-db-instance --db-instance-identifier noiam-db --enable-iam-database-authentication/,
    );
  });

  it('an unknown instance is exit code 4 with the API error', async () => {
    const r = await rdsIam(
      ['policy', '--instance', 'missing-db', '--user', 'app', '--endpoint-url', endpoint],
      { env },
    );
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^rds-iam policy: DescribeDBInstances failed: DBInstanceNotFound.*missing-db not found.*Check the instance identifier and --region/,
    );
  });
});
