// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM writes its policy variables as ${key}, and these tests quote them.
// Policy variables (IAM User Guide: "IAM policy elements: Variables and tags"): put in from the request
// context in Resource / NotResource and in String, ARN and Bool condition values, only in documents
// of Version 2012-10-17, with `${key, 'default'}` for a key the request does not carry.
import { describe, expect, it } from 'vitest';
import { evaluatePolicies, principalContext } from '../src/index.js';
import { ACCOUNT, ARN, allow, DBUSER, decide, doc } from './helpers.js';

// Policy variables as IAM writes them, kept out of template-literal syntax.
const v = (body: string) => `$${`{${body}}`}`;
const ALICE = principalContext(`arn:aws:iam::${ACCOUNT}:user/alice`);
const BOB = principalContext(`arn:aws:iam::${ACCOUNT}:user/bob`);
const TAGGED = (dbuser: string) => ({ 'aws:PrincipalTag/dbuser': dbuser });

describe('variables in Resource', () => {
  it.each([
    ['${aws:username} is the signing user', `${DBUSER}/${v('aws:username')}`, ALICE, 'allow'],
    [
      '${aws:username} for another user does not match',
      `${DBUSER}/${v('aws:username')}`,
      BOB,
      'implicit-deny',
    ],
    [
      '${aws:username} absent (a role session) matches nothing',
      `${DBUSER}/${v('aws:username')}`,
      {},
      'implicit-deny',
    ],
    [
      '${aws:PrincipalTag/dbuser}',
      `${DBUSER}/${v('aws:PrincipalTag/dbuser')}`,
      TAGGED('alice'),
      'allow',
    ],
    [
      '${aws:PrincipalTag/dbuser} with another value',
      `${DBUSER}/${v('aws:PrincipalTag/dbuser')}`,
      TAGGED('bob'),
      'implicit-deny',
    ],
    [
      "a default for an absent key: ${aws:PrincipalTag/dbuser, 'alice'}",
      `${DBUSER}/${v("aws:PrincipalTag/dbuser, 'alice'")}`,
      {},
      'allow',
    ],
    [
      'a default is not used when the key is present',
      `${DBUSER}/${v("aws:PrincipalTag/dbuser, 'alice'")}`,
      TAGGED('bob'),
      'implicit-deny',
    ],
    [
      'a default with spaces around it',
      `${DBUSER}/${v("aws:PrincipalTag/dbuser ,  'alice' ")}`,
      {},
      'allow',
    ],
    [
      'a doubled quote in a default is one quote',
      `${DBUSER}/${v("aws:PrincipalTag/dbuser, 'o''neil'")}`,
      {},
      'implicit-deny',
    ],
    ['variable key names are case-insensitive', `${DBUSER}/${v('AWS:USERNAME')}`, ALICE, 'allow'],
    [
      'a value from the request is literal: a user named * matches only *',
      `${DBUSER}/${v('aws:PrincipalTag/dbuser')}`,
      TAGGED('*'),
      'implicit-deny',
    ],
    ['${*} is a literal asterisk, not a wildcard', `${DBUSER}/ali${v('*')}`, {}, 'implicit-deny'],
    [
      'a variable next to a written wildcard',
      `arn:aws:rds-db:*:${v('aws:PrincipalAccount')}:dbuser:*/*`,
      ALICE,
      'allow',
    ],
    [
      'a variable of another account',
      `arn:aws:rds-db:*:${v('aws:PrincipalAccount')}:dbuser:*/*`,
      principalContext('arn:aws:iam::210987654321:user/alice'),
      'implicit-deny',
    ],
    [
      'a multivalued key cannot fill a variable',
      `${DBUSER}/${v('aws:PrincipalTag/dbuser')}`,
      { 'aws:PrincipalTag/dbuser': ['alice', 'bob'] },
      'implicit-deny',
    ],
  ] as const)('%s', (_what, resource, context, decision) => {
    expect(decide(doc(allow({ Resource: resource })), context)).toBe(decision);
  });

  it('${*}, ${?} and ${$} stand for the characters themselves', () => {
    const resource = `${DBUSER}/a${v('*')}${v('?')}${v('$')}`;
    const arn = `${DBUSER}/a*?$`;
    expect(decide(doc(allow({ Resource: resource })), {}, { resource: arn })).toBe('allow');
    expect(decide(doc(allow({ Resource: resource })), {}, { resource: `${DBUSER}/ab?$` })).toBe(
      'implicit-deny',
    );
  });

  it("NotResource with ${aws:username}: a Deny of every user but one's own", () => {
    const policy = doc(allow({ Resource: '*' }), {
      Effect: 'Deny',
      Action: 'rds-db:connect',
      NotResource: `${DBUSER}/${v('aws:username')}`,
    });
    expect(decide(policy, ALICE)).toBe('allow');
    expect(decide(policy, BOB)).toBe('explicit-deny');
  });
});

describe('variables only in 2012-10-17 documents', () => {
  const resource = `${DBUSER}/${v('aws:username')}`;
  it('a 2008-10-17 document reads ${aws:username} as text', () => {
    const policy = { Version: '2008-10-17', Statement: [allow({ Resource: resource })] };
    expect(decide(policy, ALICE)).toBe('implicit-deny');
    // ... and so matches a user literally named ${aws:username}.
    expect(decide(policy, ALICE, { resource })).toBe('allow');
  });
  it('a document without Version is 2008-10-17', () => {
    expect(decide({ Statement: [allow({ Resource: resource })] }, ALICE)).toBe('implicit-deny');
  });
  it('in a 2008-10-17 document a condition value keeps ${...} as text', () => {
    const policy = {
      Version: '2008-10-17',
      Statement: [
        allow({ Condition: { StringEquals: { 'aws:PrincipalTag/dbuser': v('aws:username') } } }),
      ],
    };
    expect(decide(policy, { ...ALICE, ...TAGGED('alice') })).toBe('implicit-deny');
    expect(decide(policy, { ...ALICE, ...TAGGED(v('aws:username')) })).toBe('allow');
  });
});

describe('variables in condition values', () => {
  it.each([
    [
      'StringEquals tag = ${aws:username}',
      { StringEquals: { 'aws:PrincipalTag/dbuser': v('aws:username') } },
      { ...ALICE, ...TAGGED('alice') },
      'allow',
    ],
    [
      'StringEquals tag = ${aws:username}, another user',
      { StringEquals: { 'aws:PrincipalTag/dbuser': v('aws:username') } },
      { ...BOB, ...TAGGED('alice') },
      'implicit-deny',
    ],
    [
      'StringLike with a variable and a wildcard',
      { StringLike: { 'aws:PrincipalTag/dbuser': `${v('aws:username')}-*` } },
      { ...ALICE, ...TAGGED('alice-ro') },
      'allow',
    ],
    [
      'a variable without a value matches nothing (StringEquals)',
      { StringEquals: { 'aws:PrincipalTag/dbuser': v('aws:username') } },
      TAGGED('alice'),
      'implicit-deny',
    ],
    [
      'ArnEquals against ${aws:PrincipalArn}',
      { ArnEquals: { 'aws:SourceArn': v('aws:PrincipalArn') } },
      { ...ALICE, 'aws:SourceArn': `arn:aws:iam::${ACCOUNT}:user/alice` },
      'allow',
    ],
    [
      'Bool from a tag',
      { Bool: { 'aws:SecureTransport': v('aws:PrincipalTag/tls') } },
      { 'aws:SecureTransport': 'true', 'aws:PrincipalTag/tls': 'true' },
      'allow',
    ],
    [
      'a default in a condition value',
      { StringEquals: { 'aws:RequestedRegion': v("aws:PrincipalTag/region, 'eu-west-1'") } },
      { 'aws:RequestedRegion': 'eu-west-1' },
      'allow',
    ],
  ] as const)('%s', (_what, condition, context, decision) => {
    expect(decide(doc(allow({ Condition: condition })), context)).toBe(decision);
  });
});

describe('the nearest miss names the variable', () => {
  it('says what the variable was for this request', () => {
    const r = evaluatePolicies([doc(allow({ Resource: `${DBUSER}/${v('aws:username')}` }))], {
      resource: ARN,
      context: BOB,
      missing: 'absent',
    });
    expect(r.nearestMiss?.resolved).toBe(`${DBUSER}/bob`);
    expect(r.nearestMiss?.differs).toEqual(['user']);
    expect(r.nearestMiss?.explanation).toContain(
      `${DBUSER}/${v('aws:username')} (here ${DBUSER}/bob)`,
    );
  });
  it('says that the variable had no value', () => {
    const r = evaluatePolicies([doc(allow({ Resource: `${DBUSER}/${v('aws:username')}` }))], {
      resource: ARN,
      missing: 'absent',
    });
    expect(r.missingContext).toEqual(['aws:username']);
    expect(r.nearestMiss?.explanation).toContain(
      'aws:username has no value in this request (and no default)',
    );
  });
});
