// Matching as IAM documents it: Action / NotAction, Resource / NotResource, wildcards, explicit Deny,
// and the nearest miss that says which part of the ARN differs.
import { RdsIamError } from '@rds-iam/core';
import { describe, expect, it } from 'vitest';
import {
  dbUserArn,
  evaluatePolicies,
  type PolicyInput,
  parsePolicyDocument,
} from '../src/index.js';

const ARN = 'arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-XYZ/app';

function allowing(resource: unknown, action: unknown = 'rds-db:connect'): PolicyInput {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: action, Resource: resource }],
  };
}

function decide(policies: PolicyInput[], resource = ARN, action?: string): string {
  return evaluatePolicies(policies, { resource, ...(action ? { action } : {}) }).decision;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof RdsIamError) return err.code;
    throw err;
  }
  return undefined;
}

describe('dbUserArn', () => {
  it('builds the ARN with the partition of the region', () => {
    const parts = { account: '123456789012', resourceId: 'db-XYZ', user: 'app' };
    expect(dbUserArn({ region: 'eu-west-1', ...parts })).toBe(ARN);
    expect(dbUserArn({ region: 'cn-north-1', ...parts })).toMatch(/^arn:aws-cn:rds-db:cn-north-1:/);
    expect(dbUserArn({ region: 'us-gov-west-1', ...parts })).toMatch(/^arn:aws-us-gov:/);
  });
});

describe('evaluatePolicies: matching', () => {
  it('allows the exact ARN, and says which statement decided', () => {
    const r = evaluatePolicies([allowing([ARN])], { resource: ARN });
    expect(r.decision).toBe('allow');
    expect(r.decidedBy).toEqual({ policy: 0, statement: 0, effect: 'Allow' });
    expect(r.action).toBe('rds-db:connect');
    expect(r.resource).toBe(ARN);
    expect(r.nearestMiss).toBeUndefined();
  });
  it('takes Statement as a single object', () => {
    const doc = { Statement: { Effect: 'Allow', Action: 'rds-db:connect', Resource: ARN } };
    expect(decide([doc])).toBe('allow');
  });
  it('takes Action and Resource as strings', () => {
    expect(decide([allowing(ARN, 'rds-db:connect')])).toBe('allow');
  });
  it('takes Action and Resource as arrays', () => {
    expect(decide([allowing(['arn:aws:s3:::b', ARN], ['s3:GetObject', 'rds-db:connect'])])).toBe(
      'allow',
    );
  });
  it('matches action names case-insensitively', () => {
    expect(decide([allowing(ARN, 'RDS-DB:Connect')])).toBe('allow');
  });
  it('matches ARNs case-sensitively', () => {
    expect(decide([allowing(ARN.replace('db-XYZ', 'db-xyz'))])).toBe('implicit-deny');
    expect(decide([allowing(ARN.replace('/app', '/App'))])).toBe('implicit-deny');
  });
  it('lets rds-db:* match rds-db:connect', () => {
    expect(decide([allowing(ARN, 'rds-db:*')])).toBe('allow');
  });
  it('does not let rds:* match rds-db:connect, and says so', () => {
    const r = evaluatePolicies([allowing(ARN, 'rds:*')], { resource: ARN });
    expect(r.decision).toBe('implicit-deny');
    expect(r.nearestMiss?.actionMatches).toBe(false);
    expect(r.nearestMiss?.explanation).toContain('does not allow the action rds-db:connect');
  });
  it('lets Action "*" match everything', () => {
    expect(decide([allowing(ARN, '*')])).toBe('allow');
  });
  it('matches ? as exactly one character in an action', () => {
    expect(decide([allowing(ARN, 'rds-db:connec?')])).toBe('allow');
    expect(decide([allowing(ARN, 'rds-db:connect?')])).toBe('implicit-deny');
  });
  it('matches * in the resource id and the user', () => {
    expect(decide([allowing('arn:aws:rds-db:eu-west-1:123456789012:dbuser:*/app')])).toBe('allow');
    expect(decide([allowing('arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-XYZ/*')])).toBe(
      'allow',
    );
    expect(decide([allowing('arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-XYZ/a*')])).toBe(
      'allow',
    );
  });
  it('matches ? as one character in a resource', () => {
    expect(decide([allowing('arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-XY?/ap?')])).toBe(
      'allow',
    );
    expect(decide([allowing('arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-X?/app')])).toBe(
      'implicit-deny',
    );
  });
  it('matches Resource "*"', () => {
    expect(decide([allowing('*')])).toBe('allow');
  });
  it('keeps a wildcard inside one ARN part: a region * does not reach into the account', () => {
    expect(decide([allowing('arn:aws:rds-db:*:123456789012:dbuser:db-XYZ/app')])).toBe('allow');
    expect(decide([allowing('arn:aws:rds-db:*:dbuser:db-XYZ/app')])).toBe('implicit-deny');
  });
  it('treats regular-expression characters in patterns literally', () => {
    expect(decide([allowing('arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-XYZ/a.p')])).toBe(
      'implicit-deny',
    );
  });
  it('applies NotAction: everything except the listed actions', () => {
    const doc = { Statement: [{ Effect: 'Allow', NotAction: 's3:*', Resource: ARN }] };
    expect(decide([doc])).toBe('allow');
    const excluding = { Statement: [{ Effect: 'Allow', NotAction: ['rds-db:*'], Resource: ARN }] };
    expect(decide([excluding])).toBe('implicit-deny');
  });
  it('applies NotResource: every resource except the listed ones', () => {
    const other = {
      Statement: [{ Effect: 'Allow', Action: 'rds-db:connect', NotResource: 'arn:aws:s3:::b' }],
    };
    expect(decide([other])).toBe('allow');
    const excluding = {
      Statement: [{ Effect: 'Allow', Action: 'rds-db:connect', NotResource: [ARN] }],
    };
    expect(decide([excluding])).toBe('implicit-deny');
  });
  it('evaluates another action when asked', () => {
    expect(decide([allowing(ARN)], ARN, 's3:GetObject')).toBe('implicit-deny');
  });
});

describe('evaluatePolicies: decisions', () => {
  it('denies by default with no policy at all', () => {
    const r = evaluatePolicies([], { resource: ARN });
    expect(r.decision).toBe('implicit-deny');
    expect(r.decidedBy).toBeUndefined();
    expect(r.nearestMiss).toBeUndefined();
  });
  it('denies by default when nothing matches', () => {
    expect(decide([allowing('arn:aws:s3:::bucket/*', 's3:*')])).toBe('implicit-deny');
  });
  it('lets an explicit Deny win over an Allow in the same document, naming the Deny and its Sid', () => {
    const doc = {
      Statement: [
        { Effect: 'Allow', Action: 'rds-db:*', Resource: '*' },
        { Sid: 'NoApp', Effect: 'Deny', Action: 'rds-db:connect', Resource: ARN },
      ],
    };
    const r = evaluatePolicies([doc], { resource: ARN });
    expect(r.decision).toBe('explicit-deny');
    expect(r.decidedBy).toEqual({ policy: 0, statement: 1, sid: 'NoApp', effect: 'Deny' });
    expect(r.nearestMiss?.explanation).toContain('Statement[1] (Sid NoApp) denies');
  });
  it('lets an explicit Deny in another document win, whatever the order', () => {
    const deny = { Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] };
    expect(decide([allowing(ARN), deny])).toBe('explicit-deny');
    expect(decide([deny, allowing(ARN)])).toBe('explicit-deny');
  });
  it('names the first matching Allow across documents', () => {
    const r = evaluatePolicies([allowing('arn:aws:s3:::b', 's3:*'), allowing(ARN)], {
      resource: ARN,
    });
    expect(r.decidedBy).toMatchObject({ policy: 1, statement: 0 });
  });
  it('ignores a Deny that does not match', () => {
    const doc = {
      Statement: [
        { Effect: 'Allow', Action: 'rds-db:connect', Resource: ARN },
        { Effect: 'Deny', Action: 'rds-db:connect', Resource: ARN.replace('/app', '/admin') },
      ],
    };
    expect(decide([doc])).toBe('allow');
  });
});

describe('evaluatePolicies: the nearest miss', () => {
  const cases = [
    [
      'arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABC/app',
      ['resource-id'],
      'the resource id differs',
    ],
    ['arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-XYZ/other', ['user'], 'the user differs'],
    ['arn:aws:rds-db:us-east-1:123456789012:dbuser:db-XYZ/app', ['region'], 'the region differs'],
    ['arn:aws:rds-db:eu-west-1:210987654321:dbuser:db-XYZ/app', ['account'], 'the account differs'],
    [
      'arn:aws-cn:rds-db:eu-west-1:123456789012:dbuser:db-XYZ/app',
      ['partition'],
      'the partition differs',
    ],
    ['arn:aws:rds:eu-west-1:123456789012:dbuser:db-XYZ/app', ['service'], 'the service differs'],
  ] as const;
  for (const [pattern, differs, words] of cases) {
    it(`names ${differs.join(', ')} when only that differs`, () => {
      const r = evaluatePolicies([allowing(pattern)], { resource: ARN });
      expect(r.decision).toBe('implicit-deny');
      expect(r.nearestMiss?.differs).toEqual(differs);
      expect(r.nearestMiss?.pattern).toBe(pattern);
      expect(r.nearestMiss?.explanation).toBe(
        `policy 0 Statement[0] allows ${pattern}, the login needs ${ARN}: ${words}`,
      );
    });
  }
  it('names documents as the caller asks (file names)', () => {
    const r = evaluatePolicies(
      [allowing('arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABC/app')],
      { resource: ARN },
      { names: ['policy.json'] },
    );
    expect(r.nearestMiss?.explanation).toMatch(/^policy\.json Statement\[0\] allows /);
  });
  it('picks the closest of several resources and names every part that differs', () => {
    const r = evaluatePolicies(
      [
        allowing([
          'arn:aws:rds-db:us-east-1:210987654321:dbuser:db-ABC/app',
          'arn:aws:rds-db:eu-west-1:123456789012:dbuser:rds-auth-demo/demo_user',
        ]),
      ],
      { resource: ARN },
    );
    expect(r.nearestMiss?.differs).toEqual(['resource-id', 'user']);
    expect(r.nearestMiss?.explanation).toContain('the resource id, the user differ');
  });
});

describe('malformed policy documents', () => {
  it('refuses text that is not JSON with ERR_POLICY_NOT_JSON', () => {
    expect(code(() => evaluatePolicies(['{"Statement": ['], { resource: ARN }))).toBe(
      'ERR_POLICY_NOT_JSON',
    );
  });
  it('refuses a document without Statement with ERR_POLICY_NO_STATEMENT', () => {
    expect(code(() => parsePolicyDocument('{"Version":"2012-10-17"}'))).toBe(
      'ERR_POLICY_NO_STATEMENT',
    );
    expect(code(() => parsePolicyDocument({ Statement: [] }))).toBe('ERR_POLICY_NO_STATEMENT');
  });
  it('refuses an unknown Effect, naming it', () => {
    const doc = { Statement: [{ Effect: 'allow', Action: '*', Resource: '*' }] };
    expect(code(() => parsePolicyDocument(doc))).toBe('ERR_POLICY_INVALID');
    expect(() => parsePolicyDocument(doc)).toThrow(/Statement\[0\]: has "Effect" "allow"/);
  });
  it('refuses a document that is not an object', () => {
    expect(code(() => parsePolicyDocument('[1, 2]'))).toBe('ERR_POLICY_INVALID');
    expect(code(() => parsePolicyDocument('"text"'))).toBe('ERR_POLICY_INVALID');
  });
  it('refuses Action together with NotAction, and neither', () => {
    expect(
      code(() =>
        parsePolicyDocument({
          Statement: { Effect: 'Allow', Action: '*', NotAction: 's3:*', Resource: '*' },
        }),
      ),
    ).toBe('ERR_POLICY_INVALID');
    expect(code(() => parsePolicyDocument({ Statement: { Effect: 'Allow', Resource: '*' } }))).toBe(
      'ERR_POLICY_INVALID',
    );
  });
  it('refuses a Resource that is not a string or an array of strings', () => {
    expect(code(() => parsePolicyDocument(allowing(42)))).toBe('ERR_POLICY_INVALID');
    expect(code(() => parsePolicyDocument(allowing([])))).toBe('ERR_POLICY_INVALID');
  });
  it('refuses an unknown Version and a Principal in an identity policy', () => {
    expect(
      code(() => parsePolicyDocument({ ...(allowing(ARN) as object), Version: '2020-01-01' })),
    ).toBe('ERR_POLICY_INVALID');
    expect(
      code(() =>
        parsePolicyDocument({
          Statement: { Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' },
        }),
      ),
    ).toBe('ERR_POLICY_INVALID');
  });
  it('refuses a malformed Condition', () => {
    const doc = {
      Statement: { Effect: 'Allow', Action: '*', Resource: '*', Condition: { Bool: 'true' } },
    };
    expect(code(() => parsePolicyDocument(doc))).toBe('ERR_POLICY_INVALID');
  });
  it('refuses a malformed document even when an earlier one would allow', () => {
    expect(code(() => evaluatePolicies([allowing(ARN), '{}'], { resource: ARN }))).toBe(
      'ERR_POLICY_NO_STATEMENT',
    );
  });
  it('accepts and returns what rds-iam policy prints', () => {
    const text = JSON.stringify(allowing([ARN]));
    expect(parsePolicyDocument(text)).toEqual(JSON.parse(text));
  });
});
