// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM writes its policy variables as ${key}, and these tests quote them.
// IAM's grammar for identity policies (IAM User Guide: "Grammar of the IAM JSON policy language",
// "IAM JSON policy elements"): each document below is one that IAM refuses when it is created or
// attached, so a local check must refuse it too (a coded error, never a decision).
import { describe, expect, it } from 'vitest';
import { evaluatePolicies, parsePolicyDocument } from '../src/index.js';
import { ARN, allow, codeOf, deny, doc } from './helpers.js';

const cases: [what: string, document: unknown, code: string, message: RegExp][] = [
  [
    'a misspelled "Condtion" (the restriction would be silently dropped)',
    doc(allow({ Condtion: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })),
    'ERR_POLICY_UNKNOWN_ELEMENT',
    /unknown element "Condtion" \(did you mean "Condition"\?\)/,
  ],
  [
    'an unknown element next to Statement (a Deny-all inside it would be ignored)',
    { Version: '2012-10-17', Statement: [allow()], Statements: [deny()] },
    'ERR_POLICY_UNKNOWN_ELEMENT',
    /unknown element "Statements" \(did you mean "Statement"\?\)/,
  ],
  [
    'an unknown element in a statement',
    doc(allow({ Comment: 'x' })),
    'ERR_POLICY_UNKNOWN_ELEMENT',
    /Statement\[0\]: unknown element "Comment"/,
  ],
  [
    'element names are case-sensitive ("effect")',
    doc({ effect: 'Allow', Action: 'rds-db:connect', Resource: ARN }),
    'ERR_POLICY_UNKNOWN_ELEMENT',
    /"effect" \(did you mean "Effect"\?\)/,
  ],
  [
    '"Action": "*:connect" (a wildcard vendor)',
    doc(allow({ Action: '*:connect' })),
    'ERR_POLICY_ACTION',
    /no wildcard/,
  ],
  [
    '"Action": "connect" (no vendor)',
    doc(allow({ Action: 'connect' })),
    'ERR_POLICY_ACTION',
    /vendor:action/,
  ],
  [
    '"Action": "rds-db:" (no action name)',
    doc(allow({ Action: 'rds-db:' })),
    'ERR_POLICY_ACTION',
    /vendor:action/,
  ],
  [
    '"Action": "rds db:connect" (a space)',
    doc(allow({ Action: 'rds db:connect' })),
    'ERR_POLICY_ACTION',
    /vendor:action/,
  ],
  [
    'a NotAction entry without vendor',
    doc({ Effect: 'Allow', NotAction: 'connect', Resource: '*' }),
    'ERR_POLICY_ACTION',
    /"NotAction" "connect"/,
  ],
  [
    '"Resource": "mydb" (not an ARN)',
    doc(allow({ Resource: 'mydb' })),
    'ERR_POLICY_RESOURCE',
    /not an ARN/,
  ],
  [
    '"Resource": "rds-db:connect" (an action, not an ARN)',
    doc(allow({ Resource: 'rds-db:connect' })),
    'ERR_POLICY_RESOURCE',
    /not an ARN/,
  ],
  [
    '"Resource": "arn:aws:rds-db" (too few parts)',
    doc(allow({ Resource: 'arn:aws:rds-db' })),
    'ERR_POLICY_RESOURCE',
    /not an ARN/,
  ],
  [
    'a NotResource that is not an ARN',
    doc({ Effect: 'Deny', Action: 'rds-db:connect', NotResource: 'db-ABC/alice' }),
    'ERR_POLICY_RESOURCE',
    /"NotResource"/,
  ],
  [
    'an unknown condition operator',
    doc(allow({ Condition: { StringEqual: { 'aws:username': 'alice' } } })),
    'ERR_POLICY_CONDITION_OPERATOR',
    /"StringEqual" does not exist \(did you mean "StringEquals"\?\)/,
  ],
  [
    'operator names are case-sensitive',
    doc(allow({ Condition: { stringequals: { 'aws:username': 'alice' } } })),
    'ERR_POLICY_CONDITION_OPERATOR',
    /did you mean "StringEquals"/,
  ],
  [
    'NullIfExists does not exist',
    doc(allow({ Condition: { NullIfExists: { 'aws:username': 'true' } } })),
    'ERR_POLICY_CONDITION_OPERATOR',
    /NullIfExists/,
  ],
  [
    'a set qualifier that does not exist',
    doc(allow({ Condition: { 'ForSomeValues:StringEquals': { 'aws:TagKeys': 'a' } } })),
    'ERR_POLICY_CONDITION_OPERATOR',
    /ForSomeValues/,
  ],
  [
    'a DateLessThan value that is not a date',
    doc(allow({ Condition: { DateLessThan: { 'aws:CurrentTime': 'tomorrow' } } })),
    'ERR_POLICY_CONDITION_VALUE',
    /"tomorrow", which is not a date/,
  ],
  [
    'a date that does not exist',
    doc(allow({ Condition: { DateLessThan: { 'aws:CurrentTime': '2025-02-30T00:00:00Z' } } })),
    'ERR_POLICY_CONDITION_VALUE',
    /not a date/,
  ],
  [
    'a numeric value that is not a number',
    doc(allow({ Condition: { NumericLessThan: { 'aws:MultiFactorAuthAge': 'ten' } } })),
    'ERR_POLICY_CONDITION_VALUE',
    /not a number/,
  ],
  [
    'a Bool value that is not true or false',
    doc(allow({ Condition: { Bool: { 'aws:SecureTransport': 'yes' } } })),
    'ERR_POLICY_CONDITION_VALUE',
    /not true or false/,
  ],
  [
    'a Null value that is not true or false',
    doc(allow({ Condition: { Null: { 'aws:username': 'absent' } } })),
    'ERR_POLICY_CONDITION_VALUE',
    /not true or false/,
  ],
  [
    'an IpAddress value that is not an address',
    doc(allow({ Condition: { IpAddress: { 'aws:SourceIp': 'office' } } })),
    'ERR_POLICY_CONDITION_VALUE',
    /not an IP address or CIDR range/,
  ],
  [
    'an IPv4 prefix above 32',
    doc(allow({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } })),
    'ERR_POLICY_CONDITION_VALUE',
    /CIDR/,
  ],
  [
    'a BinaryEquals value that is not base64',
    doc(allow({ Condition: { BinaryEquals: { 'app:key': 'not base64!' } } })),
    'ERR_POLICY_CONDITION_VALUE',
    /base64/,
  ],
  [
    'an ArnLike value that is not an ARN',
    doc(allow({ Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam:*/app' } } })),
    'ERR_POLICY_CONDITION_VALUE',
    /not an ARN/,
  ],
  [
    'an empty list of condition values',
    doc(allow({ Condition: { StringEquals: { 'aws:username': [] } } })),
    'ERR_POLICY_CONDITION_VALUE',
    /non-empty array/,
  ],
  [
    'an object as a condition value',
    doc(allow({ Condition: { StringEquals: { 'aws:username': { a: 1 } } } })),
    'ERR_POLICY_CONDITION_VALUE',
    /string, number or boolean/,
  ],
  [
    'a Sid with a space',
    doc(allow({ Sid: 'Allow app' })),
    'ERR_POLICY_SID',
    /characters other than A-Z, a-z and 0-9/,
  ],
  [
    'a Sid with a hyphen',
    doc(allow({ Sid: 'allow-app' })),
    'ERR_POLICY_SID',
    /characters other than/,
  ],
  [
    'the same Sid twice',
    doc(allow({ Sid: 'App' }), deny({ Sid: 'App' })),
    'ERR_POLICY_SID',
    /Statement\[1\]: "Sid" "App" is already the Sid of Statement\[0\]/,
  ],
  ['a Sid that is not a string', doc(allow({ Sid: 7 })), 'ERR_POLICY_SID', /not a string/],
  [
    'an empty Statement list',
    { Version: '2012-10-17', Statement: [] },
    'ERR_POLICY_NO_STATEMENT',
    /empty "Statement"/,
  ],
  [
    'a Statement that is a string',
    { Version: '2012-10-17', Statement: 'allow' },
    'ERR_POLICY_INVALID',
    /is not an object/,
  ],
  [
    'an Id that is not a string',
    { Version: '2012-10-17', Id: 1, Statement: [allow()] },
    'ERR_POLICY_INVALID',
    /"Id" must be a string/,
  ],
  [
    'a Version that is not a date IAM knows',
    { Version: '2012-10-18', Statement: [allow()] },
    'ERR_POLICY_INVALID',
    /"Version"/,
  ],
  [
    'a Principal in an identity policy',
    doc(allow({ Principal: { AWS: '*' } })),
    'ERR_POLICY_INVALID',
    /"Principal"/,
  ],
  [
    'a Condition that is an array',
    doc(allow({ Condition: [] })),
    'ERR_POLICY_INVALID',
    /"Condition" must be an object/,
  ],
];

describe('documents IAM refuses', () => {
  it.each(cases)('%s: %s', (_what, document, code, message) => {
    expect(codeOf(() => parsePolicyDocument(document as Record<string, unknown>))).toBe(code);
    expect(() => parsePolicyDocument(document as Record<string, unknown>)).toThrow(message);
    // And the evaluator refuses to decide: no allow from a document IAM would not take.
    expect(
      codeOf(() => evaluatePolicies([document as Record<string, unknown>], { resource: ARN })),
    ).toBe(code);
  });

  it('points at the grammar page and names the file the caller gave', () => {
    expect(() =>
      evaluatePolicies(
        [doc(allow({ Condtion: {} }))],
        { resource: ARN },
        { names: ['policy.json'] },
      ),
    ).toThrow(
      /^policy\.json Statement\[0\]: unknown element "Condtion".*IAM refuses this document \(https:\/\/docs\.aws\.amazon\.com\/IAM\/latest\/UserGuide\/reference_policies_grammar\.html\)$/,
    );
  });
});

describe('documents IAM accepts', () => {
  it.each([
    [
      'an Id next to Version and Statement',
      { Version: '2012-10-17', Id: 'rds', Statement: [allow()] },
    ],
    ['no Version (2008-10-17 is assumed)', { Statement: allow() }],
    ['an empty Sid', doc(allow({ Sid: '' }))],
    ['unique alphanumeric Sids', doc(allow({ Sid: 'A1' }), deny({ Sid: 'B2' }))],
    ['a vendor with capitals and digits', doc(allow({ Action: 'RDS-DB:Connect' }))],
    ['wildcards in the action name', doc(allow({ Action: 'rds-db:*' }))],
    ['every ARN part a wildcard', doc(allow({ Resource: 'arn:*:*:*:*:*' }))],
    [
      'a variable in a resource',
      doc(allow({ Resource: 'arn:aws:rds-db:*:*:dbuser:*/${aws:username}' })),
    ],
    [
      'a variable in a Date value of a 2012-10-17 document is not a variable there (and must be a date)',
      doc(allow({ Condition: { DateLessThan: { 'aws:CurrentTime': '2030-01-01' } } })),
    ],
    [
      'numbers and booleans as condition values',
      doc(
        allow({
          Condition: {
            NumericLessThan: { 'aws:MultiFactorAuthAge': 300 },
            Bool: { 'aws:SecureTransport': true },
          },
        }),
      ),
    ],
  ])('%s', (_what, document) => {
    expect(() => parsePolicyDocument(document as Record<string, unknown>)).not.toThrow();
  });
});
