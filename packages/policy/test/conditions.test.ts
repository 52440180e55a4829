// Every condition operator family, as IAM's User Guide documents it ("IAM JSON policy elements:
// Condition operators" and "Conditions with multiple context keys or values"). Each row is an Allow
// with the condition, evaluated for a request that carries exactly the context shown: `allow` when the
// condition holds, `implicit-deny` when it does not.
import { describe, expect, it } from 'vitest';
import type { RequestContext } from '../src/index.js';
import { allow, decide, doc } from './helpers.js';

type Row = [
  what: string,
  condition: Record<string, unknown>,
  context: RequestContext,
  holds: boolean,
];

function table(name: string, rows: Row[]): void {
  describe(name, () => {
    it.each(rows)('%s', (_what, condition, context, holds) => {
      expect(decide(doc(allow({ Condition: condition })), context)).toBe(
        holds ? 'allow' : 'implicit-deny',
      );
    });
  });
}

const TEAM = 'aws:PrincipalTag/team';

table('String operators', [
  ['StringEquals matches exactly', { StringEquals: { [TEAM]: 'db' } }, { [TEAM]: 'db' }, true],
  ['StringEquals is case-sensitive', { StringEquals: { [TEAM]: 'db' } }, { [TEAM]: 'DB' }, false],
  ['StringEquals takes no wildcard', { StringEquals: { [TEAM]: 'd*' } }, { [TEAM]: 'db' }, false],
  [
    'StringEquals: a * in the policy is a character',
    { StringEquals: { [TEAM]: 'd*' } },
    { [TEAM]: 'd*' },
    true,
  ],
  [
    'StringEquals: values are ORed',
    { StringEquals: { [TEAM]: ['ops', 'db'] } },
    { [TEAM]: 'db' },
    true,
  ],
  [
    'StringEquals: none of the values',
    { StringEquals: { [TEAM]: ['ops', 'web'] } },
    { [TEAM]: 'db' },
    false,
  ],
  ['StringEquals: absent key is false', { StringEquals: { [TEAM]: 'db' } }, {}, false],
  [
    'StringNotEquals: a different value',
    { StringNotEquals: { [TEAM]: 'ops' } },
    { [TEAM]: 'db' },
    true,
  ],
  [
    'StringNotEquals: the same value',
    { StringNotEquals: { [TEAM]: 'db' } },
    { [TEAM]: 'db' },
    false,
  ],
  [
    'StringNotEquals: values are NORed',
    { StringNotEquals: { [TEAM]: ['ops', 'db'] } },
    { [TEAM]: 'db' },
    false,
  ],
  ['StringNotEquals: absent key is true', { StringNotEquals: { [TEAM]: 'db' } }, {}, true],
  [
    'StringEqualsIgnoreCase ignores case',
    { StringEqualsIgnoreCase: { [TEAM]: 'db' } },
    { [TEAM]: 'DB' },
    true,
  ],
  [
    'StringEqualsIgnoreCase: another value',
    { StringEqualsIgnoreCase: { [TEAM]: 'db' } },
    { [TEAM]: 'ops' },
    false,
  ],
  [
    'StringNotEqualsIgnoreCase: same but case',
    { StringNotEqualsIgnoreCase: { [TEAM]: 'db' } },
    { [TEAM]: 'Db' },
    false,
  ],
  [
    'StringNotEqualsIgnoreCase: another value',
    { StringNotEqualsIgnoreCase: { [TEAM]: 'db' } },
    { [TEAM]: 'ops' },
    true,
  ],
  ['StringLike with *', { StringLike: { [TEAM]: 'db-*' } }, { [TEAM]: 'db-eu' }, true],
  ['StringLike with ?', { StringLike: { [TEAM]: 'db-??' } }, { [TEAM]: 'db-eu' }, true],
  [
    'StringLike ? is exactly one character',
    { StringLike: { [TEAM]: 'db-?' } },
    { [TEAM]: 'db-eu' },
    false,
  ],
  ['StringLike is case-sensitive', { StringLike: { [TEAM]: 'DB-*' } }, { [TEAM]: 'db-eu' }, false],
  [
    'StringLike without wildcard is exact',
    { StringLike: { [TEAM]: 'db' } },
    { [TEAM]: 'db-eu' },
    false,
  ],
  ['StringLike: absent key is false', { StringLike: { [TEAM]: '*' } }, {}, false],
  [
    'StringNotLike: does not match',
    { StringNotLike: { [TEAM]: 'ops-*' } },
    { [TEAM]: 'db-eu' },
    true,
  ],
  ['StringNotLike: matches', { StringNotLike: { [TEAM]: 'db-*' } }, { [TEAM]: 'db-eu' }, false],
  ['StringNotLike: absent key is true', { StringNotLike: { [TEAM]: 'db-*' } }, {}, true],
  [
    'condition key names are case-insensitive',
    { StringEquals: { 'AWS:PRINCIPALTAG/TEAM': 'db' } },
    { [TEAM]: 'db' },
    true,
  ],
  [
    'a number value compares as its text',
    { StringEquals: { 'aws:PrincipalTag/level': 3 } },
    { 'aws:PrincipalTag/level': '3' },
    true,
  ],
]);

table('Numeric operators', [
  [
    'NumericEquals',
    { NumericEquals: { 'aws:MultiFactorAuthAge': '300' } },
    { 'aws:MultiFactorAuthAge': '300' },
    true,
  ],
  [
    'NumericEquals compares numbers, not text',
    { NumericEquals: { 'aws:MultiFactorAuthAge': '300' } },
    { 'aws:MultiFactorAuthAge': '300.0' },
    true,
  ],
  [
    'NumericNotEquals',
    { NumericNotEquals: { 'aws:MultiFactorAuthAge': '300' } },
    { 'aws:MultiFactorAuthAge': '301' },
    true,
  ],
  [
    'NumericNotEquals: equal',
    { NumericNotEquals: { 'aws:MultiFactorAuthAge': '300' } },
    { 'aws:MultiFactorAuthAge': '300' },
    false,
  ],
  [
    'NumericLessThan: below',
    { NumericLessThan: { 'aws:MultiFactorAuthAge': 3600 } },
    { 'aws:MultiFactorAuthAge': '120' },
    true,
  ],
  [
    'NumericLessThan: equal is not less',
    { NumericLessThan: { 'aws:MultiFactorAuthAge': 3600 } },
    { 'aws:MultiFactorAuthAge': '3600' },
    false,
  ],
  [
    'NumericLessThanEquals: equal',
    { NumericLessThanEquals: { 'aws:MultiFactorAuthAge': 3600 } },
    { 'aws:MultiFactorAuthAge': '3600' },
    true,
  ],
  [
    'NumericGreaterThan: above',
    { NumericGreaterThan: { 'aws:MultiFactorAuthAge': '10' } },
    { 'aws:MultiFactorAuthAge': '11' },
    true,
  ],
  [
    'NumericGreaterThan: 9 < 10 as numbers (not as text)',
    { NumericGreaterThan: { 'aws:MultiFactorAuthAge': '10' } },
    { 'aws:MultiFactorAuthAge': '9' },
    false,
  ],
  [
    'NumericGreaterThanEquals: equal',
    { NumericGreaterThanEquals: { 'aws:MultiFactorAuthAge': '10' } },
    { 'aws:MultiFactorAuthAge': '10' },
    true,
  ],
  [
    'Numeric: decimals',
    { NumericLessThan: { 'aws:MultiFactorAuthAge': '1.5' } },
    { 'aws:MultiFactorAuthAge': '1.25' },
    true,
  ],
  [
    'Numeric: a request value that is no number matches nothing',
    { NumericLessThan: { 'aws:MultiFactorAuthAge': '10' } },
    { 'aws:MultiFactorAuthAge': 'abc' },
    false,
  ],
  [
    'Numeric: absent key is false',
    { NumericLessThan: { 'aws:MultiFactorAuthAge': '10' } },
    {},
    false,
  ],
  [
    'NumericNotEquals: absent key is true',
    { NumericNotEquals: { 'aws:MultiFactorAuthAge': '10' } },
    {},
    true,
  ],
]);

const NOW = { 'aws:CurrentTime': '2025-06-01T12:00:00Z' };
table('Date operators', [
  [
    'DateLessThan: before',
    { DateLessThan: { 'aws:CurrentTime': '2025-07-01T00:00:00Z' } },
    NOW,
    true,
  ],
  [
    'DateLessThan: after',
    { DateLessThan: { 'aws:CurrentTime': '2025-05-01T00:00:00Z' } },
    NOW,
    false,
  ],
  [
    'DateLessThan: the same instant is not less',
    { DateLessThan: { 'aws:CurrentTime': '2025-06-01T12:00:00Z' } },
    NOW,
    false,
  ],
  [
    'DateLessThanEquals: the same instant',
    { DateLessThanEquals: { 'aws:CurrentTime': '2025-06-01T12:00:00Z' } },
    NOW,
    true,
  ],
  ['DateGreaterThan: after', { DateGreaterThan: { 'aws:CurrentTime': '2025-01-01' } }, NOW, true],
  [
    'DateGreaterThanEquals: same instant, other zone',
    { DateGreaterThanEquals: { 'aws:CurrentTime': '2025-06-01T14:00:00+02:00' } },
    NOW,
    true,
  ],
  [
    'DateEquals: same instant written with fractions',
    { DateEquals: { 'aws:CurrentTime': '2025-06-01T12:00:00.000Z' } },
    NOW,
    true,
  ],
  [
    'DateNotEquals: another instant',
    { DateNotEquals: { 'aws:CurrentTime': '2025-06-01T12:00:01Z' } },
    NOW,
    true,
  ],
  [
    'Date: a date alone is midnight UTC',
    { DateEquals: { 'aws:CurrentTime': '2025-06-01' } },
    { 'aws:CurrentTime': '2025-06-01T00:00:00Z' },
    true,
  ],
  [
    'Date: epoch seconds in the policy against an ISO request',
    { DateLessThan: { 'aws:CurrentTime': '1748779201' } },
    NOW,
    true,
  ],
  [
    'Date: aws:EpochTime seconds against an ISO policy date',
    { DateGreaterThan: { 'aws:EpochTime': '2025-01-01T00:00:00Z' } },
    { 'aws:EpochTime': '1748779200' },
    true,
  ],
  [
    'Date: absent key is false',
    { DateLessThan: { 'aws:CurrentTime': '2099-01-01T00:00:00Z' } },
    {},
    false,
  ],
  [
    'DateNotEquals: absent key is true',
    { DateNotEquals: { 'aws:CurrentTime': '2099-01-01T00:00:00Z' } },
    {},
    true,
  ],
  [
    'Date: a window, both ends (AND)',
    {
      DateGreaterThan: { 'aws:CurrentTime': '2025-06-01T00:00:00Z' },
      DateLessThan: { 'aws:CurrentTime': '2025-06-02T00:00:00Z' },
    },
    NOW,
    true,
  ],
  [
    'Date: outside the window',
    {
      DateGreaterThan: { 'aws:CurrentTime': '2025-06-02T00:00:00Z' },
      DateLessThan: { 'aws:CurrentTime': '2025-06-03T00:00:00Z' },
    },
    NOW,
    false,
  ],
]);

table('Bool', [
  [
    'Bool true',
    { Bool: { 'aws:SecureTransport': 'true' } },
    { 'aws:SecureTransport': 'true' },
    true,
  ],
  [
    'Bool false against true',
    { Bool: { 'aws:SecureTransport': 'false' } },
    { 'aws:SecureTransport': 'true' },
    false,
  ],
  [
    'Bool: a JSON boolean in the policy',
    { Bool: { 'aws:SecureTransport': true } },
    { 'aws:SecureTransport': 'true' },
    true,
  ],
  [
    'Bool: case-insensitive values',
    { Bool: { 'aws:SecureTransport': 'TRUE' } },
    { 'aws:SecureTransport': 'True' },
    true,
  ],
  ['Bool: absent key is false', { Bool: { 'aws:SecureTransport': 'false' } }, {}, false],
  [
    'BoolIfExists: absent key is true',
    { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'true' } },
    {},
    true,
  ],
  [
    'BoolIfExists: present and false',
    { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'true' } },
    { 'aws:MultiFactorAuthPresent': 'false' },
    false,
  ],
]);

table('Binary', [
  [
    'BinaryEquals: the same bytes',
    { BinaryEquals: { 'app:key': 'QmluYXJ5' } },
    { 'app:key': 'QmluYXJ5' },
    true,
  ],
  [
    'BinaryEquals: other bytes',
    { BinaryEquals: { 'app:key': 'QmluYXJ5' } },
    { 'app:key': 'T3RoZXI=' },
    false,
  ],
  ['BinaryEquals: absent key is false', { BinaryEquals: { 'app:key': 'QmluYXJ5' } }, {}, false],
  [
    'BinaryEqualsIfExists: absent key is true',
    { BinaryEqualsIfExists: { 'app:key': 'QmluYXJ5' } },
    {},
    true,
  ],
]);

const IP = 'aws:SourceIp';
table('IpAddress / NotIpAddress', [
  [
    'IpAddress: inside a /24',
    { IpAddress: { [IP]: '203.0.113.0/24' } },
    { [IP]: '203.0.113.7' },
    true,
  ],
  [
    'IpAddress: outside a /24',
    { IpAddress: { [IP]: '203.0.113.0/24' } },
    { [IP]: '203.0.114.7' },
    false,
  ],
  [
    'IpAddress: a single address is /32',
    { IpAddress: { [IP]: '203.0.113.7' } },
    { [IP]: '203.0.113.7' },
    true,
  ],
  [
    'IpAddress: a single address, another one',
    { IpAddress: { [IP]: '203.0.113.7' } },
    { [IP]: '203.0.113.8' },
    false,
  ],
  [
    'IpAddress: /0 is every IPv4 address',
    { IpAddress: { [IP]: '0.0.0.0/0' } },
    { [IP]: '198.51.100.1' },
    true,
  ],
  [
    'IpAddress: odd prefix /20',
    { IpAddress: { [IP]: '10.1.16.0/20' } },
    { [IP]: '10.1.31.255' },
    true,
  ],
  [
    'IpAddress: odd prefix /20, just outside',
    { IpAddress: { [IP]: '10.1.16.0/20' } },
    { [IP]: '10.1.32.0' },
    false,
  ],
  [
    'IpAddress: one of several ranges',
    { IpAddress: { [IP]: ['10.0.0.0/8', '192.168.0.0/16'] } },
    { [IP]: '192.168.4.4' },
    true,
  ],
  [
    'IpAddress: IPv6 range',
    { IpAddress: { [IP]: '2001:db8::/32' } },
    { [IP]: '2001:db8:1:2::7' },
    true,
  ],
  [
    'IpAddress: IPv6 outside',
    { IpAddress: { [IP]: '2001:db8::/32' } },
    { [IP]: '2001:db9::7' },
    false,
  ],
  [
    'IpAddress: IPv6 /128',
    { IpAddress: { [IP]: '2001:db8::7' } },
    { [IP]: '2001:0db8:0:0:0:0:0:7' },
    true,
  ],
  [
    'IpAddress: an IPv4 range never holds an IPv6 address',
    { IpAddress: { [IP]: '0.0.0.0/0' } },
    { [IP]: '2001:db8::7' },
    false,
  ],
  [
    'IpAddress: IPv4 client seen as ::ffff:a.b.c.d',
    { IpAddress: { [IP]: '10.0.0.0/8' } },
    { [IP]: '::ffff:10.2.3.4' },
    true,
  ],
  ['IpAddress: absent key is false', { IpAddress: { [IP]: '0.0.0.0/0' } }, {}, false],
  [
    'NotIpAddress: outside',
    { NotIpAddress: { [IP]: '10.0.0.0/8' } },
    { [IP]: '203.0.113.7' },
    true,
  ],
  ['NotIpAddress: inside', { NotIpAddress: { [IP]: '10.0.0.0/8' } }, { [IP]: '10.9.9.9' }, false],
  [
    'NotIpAddress: inside one of several ranges (NOR)',
    { NotIpAddress: { [IP]: ['10.0.0.0/8', '203.0.113.0/24'] } },
    { [IP]: '203.0.113.7' },
    false,
  ],
  ['NotIpAddress: absent key is true', { NotIpAddress: { [IP]: '10.0.0.0/8' } }, {}, true],
]);

const PRINCIPAL = 'aws:PrincipalArn';
const ROLE = 'arn:aws:iam::123456789012:role/app';
table('Arn operators', [
  ['ArnEquals: the same ARN', { ArnEquals: { [PRINCIPAL]: ROLE } }, { [PRINCIPAL]: ROLE }, true],
  [
    'ArnLike: a wildcard in the resource part',
    { ArnLike: { [PRINCIPAL]: 'arn:aws:iam::123456789012:role/*' } },
    { [PRINCIPAL]: ROLE },
    true,
  ],
  [
    'ArnEquals takes wildcards too',
    { ArnEquals: { [PRINCIPAL]: 'arn:aws:iam::*:role/app' } },
    { [PRINCIPAL]: ROLE },
    true,
  ],
  [
    'ArnLike: another account',
    { ArnLike: { [PRINCIPAL]: 'arn:aws:iam::210987654321:role/*' } },
    { [PRINCIPAL]: ROLE },
    false,
  ],
  ['ArnLike: * alone is any ARN', { ArnLike: { [PRINCIPAL]: '*' } }, { [PRINCIPAL]: ROLE }, true],
  [
    'ArnLike is case-sensitive',
    { ArnLike: { [PRINCIPAL]: 'arn:aws:iam::123456789012:role/APP' } },
    { [PRINCIPAL]: ROLE },
    false,
  ],
  [
    'ArnLike: a request value that is no ARN matches nothing',
    { ArnLike: { [PRINCIPAL]: 'arn:aws:iam::*:role/*' } },
    { [PRINCIPAL]: 'app' },
    false,
  ],
  [
    'ArnNotEquals: another role',
    { ArnNotEquals: { [PRINCIPAL]: 'arn:aws:iam::123456789012:role/admin' } },
    { [PRINCIPAL]: ROLE },
    true,
  ],
  [
    'ArnNotLike: matches, so false',
    { ArnNotLike: { [PRINCIPAL]: 'arn:aws:iam::123456789012:role/*' } },
    { [PRINCIPAL]: ROLE },
    false,
  ],
  [
    'ArnNotLike: absent key is true',
    { ArnNotLike: { [PRINCIPAL]: 'arn:aws:iam::*:role/*' } },
    {},
    true,
  ],
  [
    'ArnLike: absent key is false',
    { ArnLike: { [PRINCIPAL]: 'arn:aws:iam::*:role/*' } },
    {},
    false,
  ],
]);

table('Null', [
  ['Null true: the key is absent', { Null: { [TEAM]: 'true' } }, {}, true],
  ['Null true: the key is present', { Null: { [TEAM]: 'true' } }, { [TEAM]: 'db' }, false],
  ['Null false: the key is present', { Null: { [TEAM]: 'false' } }, { [TEAM]: 'db' }, true],
  ['Null false: the key is absent', { Null: { [TEAM]: 'false' } }, {}, false],
  ['Null with a JSON boolean', { Null: { [TEAM]: false } }, { [TEAM]: 'db' }, true],
]);

table('...IfExists', [
  [
    'StringEqualsIfExists: absent key is true',
    { StringEqualsIfExists: { [TEAM]: 'db' } },
    {},
    true,
  ],
  [
    'StringEqualsIfExists: present and equal',
    { StringEqualsIfExists: { [TEAM]: 'db' } },
    { [TEAM]: 'db' },
    true,
  ],
  [
    'StringEqualsIfExists: present and different',
    { StringEqualsIfExists: { [TEAM]: 'db' } },
    { [TEAM]: 'ops' },
    false,
  ],
  [
    'StringNotEqualsIfExists: present and equal',
    { StringNotEqualsIfExists: { [TEAM]: 'db' } },
    { [TEAM]: 'db' },
    false,
  ],
  [
    'IpAddressIfExists: absent key is true',
    { IpAddressIfExists: { [IP]: '10.0.0.0/8' } },
    {},
    true,
  ],
  [
    'IpAddressIfExists: present, outside',
    { IpAddressIfExists: { [IP]: '10.0.0.0/8' } },
    { [IP]: '192.0.2.1' },
    false,
  ],
  [
    'DateLessThanIfExists: absent key is true',
    { DateLessThanIfExists: { 'aws:CurrentTime': '2020-01-01' } },
    {},
    true,
  ],
  [
    'ArnLikeIfExists: absent key is true',
    { ArnLikeIfExists: { [PRINCIPAL]: 'arn:aws:iam::*:role/x' } },
    {},
    true,
  ],
  [
    'NumericLessThanIfExists: present, too big',
    { NumericLessThanIfExists: { 'aws:MultiFactorAuthAge': '10' } },
    { 'aws:MultiFactorAuthAge': '11' },
    false,
  ],
]);

const KEYS = 'aws:PrincipalServiceNamesList';
table('ForAnyValue: / ForAllValues: on multivalued keys', [
  [
    'ForAnyValue: one request value matches',
    { 'ForAnyValue:StringEquals': { [KEYS]: ['rds.amazonaws.com'] } },
    { [KEYS]: ['ec2.amazonaws.com', 'rds.amazonaws.com'] },
    true,
  ],
  [
    'ForAnyValue: none matches',
    { 'ForAnyValue:StringEquals': { [KEYS]: ['s3.amazonaws.com'] } },
    { [KEYS]: ['ec2.amazonaws.com', 'rds.amazonaws.com'] },
    false,
  ],
  [
    'ForAnyValue: absent key is false',
    { 'ForAnyValue:StringEquals': { [KEYS]: ['rds.amazonaws.com'] } },
    {},
    false,
  ],
  [
    'ForAnyValue: an empty set is false',
    { 'ForAnyValue:StringEquals': { [KEYS]: ['rds.amazonaws.com'] } },
    { [KEYS]: [] },
    false,
  ],
  [
    'ForAllValues: every request value is allowed',
    { 'ForAllValues:StringEquals': { [KEYS]: ['a', 'b', 'c'] } },
    { [KEYS]: ['a', 'c'] },
    true,
  ],
  [
    'ForAllValues: one request value is not',
    { 'ForAllValues:StringEquals': { [KEYS]: ['a', 'b'] } },
    { [KEYS]: ['a', 'z'] },
    false,
  ],
  [
    'ForAllValues: absent key is true',
    { 'ForAllValues:StringEquals': { [KEYS]: ['a'] } },
    {},
    true,
  ],
  [
    'ForAllValues: an empty set is true',
    { 'ForAllValues:StringEquals': { [KEYS]: ['a'] } },
    { [KEYS]: [] },
    true,
  ],
  [
    'ForAllValues:StringLike with wildcards',
    { 'ForAllValues:StringLike': { [KEYS]: ['*.amazonaws.com'] } },
    { [KEYS]: ['ec2.amazonaws.com', 'rds.amazonaws.com'] },
    true,
  ],
  [
    'ForAnyValue:StringNotEquals: one value is none of them',
    { 'ForAnyValue:StringNotEquals': { [KEYS]: ['a'] } },
    { [KEYS]: ['a', 'b'] },
    true,
  ],
  [
    'ForAllValues:StringNotEquals: one value is among them',
    { 'ForAllValues:StringNotEquals': { [KEYS]: ['a'] } },
    { [KEYS]: ['a', 'b'] },
    false,
  ],
  [
    'ForAllValues:StringNotEquals: none is among them',
    { 'ForAllValues:StringNotEquals': { [KEYS]: ['x'] } },
    { [KEYS]: ['a', 'b'] },
    true,
  ],
  [
    'a plain operator on a multivalued key holds when one value does',
    { StringEquals: { [KEYS]: 'b' } },
    { [KEYS]: ['a', 'b'] },
    true,
  ],
]);

table('several operators and keys: AND; several values: OR', [
  [
    'two keys under one operator, both hold',
    { StringEquals: { [TEAM]: 'db', 'aws:PrincipalTag/env': 'prod' } },
    { [TEAM]: 'db', 'aws:PrincipalTag/env': 'prod' },
    true,
  ],
  [
    'two keys under one operator, one fails',
    { StringEquals: { [TEAM]: 'db', 'aws:PrincipalTag/env': 'prod' } },
    { [TEAM]: 'db', 'aws:PrincipalTag/env': 'dev' },
    false,
  ],
  [
    'two operators, both hold',
    { StringEquals: { [TEAM]: 'db' }, IpAddress: { [IP]: '10.0.0.0/8' } },
    { [TEAM]: 'db', [IP]: '10.1.1.1' },
    true,
  ],
  [
    'two operators, one fails',
    { StringEquals: { [TEAM]: 'db' }, IpAddress: { [IP]: '10.0.0.0/8' } },
    { [TEAM]: 'db', [IP]: '11.1.1.1' },
    false,
  ],
  ['an empty Condition object holds', {}, {}, true],
]);

describe('conditions in Deny statements', () => {
  const allowAll = allow({ Resource: '*' });
  it.each([
    [
      'NotIpAddress outside the office denies',
      { NotIpAddress: { [IP]: '10.0.0.0/8' } },
      { [IP]: '203.0.113.7' },
      'explicit-deny',
    ],
    [
      'NotIpAddress inside the office: the Allow stands',
      { NotIpAddress: { [IP]: '10.0.0.0/8' } },
      { [IP]: '10.0.0.7' },
      'allow',
    ],
    [
      'DateGreaterThan after the cut-off denies',
      { DateGreaterThan: { 'aws:CurrentTime': '2025-01-01T00:00:00Z' } },
      NOW,
      'explicit-deny',
    ],
    [
      'DateGreaterThan before the cut-off: allow',
      { DateGreaterThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } },
      NOW,
      'allow',
    ],
    [
      'Bool SecureTransport false denies a plain connection',
      { Bool: { 'aws:SecureTransport': 'false' } },
      { 'aws:SecureTransport': 'false' },
      'explicit-deny',
    ],
    [
      'Bool SecureTransport false: TLS is allowed',
      { Bool: { 'aws:SecureTransport': 'false' } },
      { 'aws:SecureTransport': 'true' },
      'allow',
    ],
    [
      'StringNotEquals RequestedRegion denies another region',
      { StringNotEquals: { 'aws:RequestedRegion': ['eu-west-1'] } },
      { 'aws:RequestedRegion': 'us-east-1' },
      'explicit-deny',
    ],
    [
      'StringNotEquals RequestedRegion: the allowed region',
      { StringNotEquals: { 'aws:RequestedRegion': ['eu-west-1'] } },
      { 'aws:RequestedRegion': 'eu-west-1' },
      'allow',
    ],
    [
      'a Deny with a negated operator and the key absent denies',
      { StringNotEquals: { 'aws:RequestedRegion': 'eu-west-1' } },
      {},
      'explicit-deny',
    ],
    [
      'a Deny with ...IfExists and the key absent applies too (absent is true)',
      { StringNotEqualsIfExists: { 'aws:RequestedRegion': 'eu-west-1' } },
      {},
      'explicit-deny',
    ],
  ] as const)('%s', (_what, condition, context, decision) => {
    expect(
      decide(doc(allowAll, { ...allowAll, Effect: 'Deny', Condition: condition }), context),
    ).toBe(decision);
  });
});
