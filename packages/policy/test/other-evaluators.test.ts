// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM writes its policy variables as ${key}, and these tests quote them.
// Cases where another evaluator gives an answer AWS does not. Each was tried on
// @cloud-copilot/iam-simulate 0.1.173 (run by hand, not a dependency); the decision asserted here is the
// one IAM's documentation gives, and the comment says what that tool answered.
import { describe, expect, it } from 'vitest';
import { evaluatePolicies, parsePolicyDocument, principalContext } from '../src/index.js';
import { ACCOUNT, ARN, allow, codeOf, DBUSER, decide, doc } from './helpers.js';

const v = (body: string) => `$${`{${body}}`}`;
const ALICE = principalContext(`arn:aws:iam::${ACCOUNT}:user/alice`);

describe('where another evaluator differs from AWS', () => {
  it('a variable in a 2008-10-17 policy is text (the other tool: Allowed)', () => {
    const policy = {
      Version: '2008-10-17',
      Statement: [allow({ Resource: `${DBUSER}/${v('aws:username')}` })],
    };
    expect(decide(policy, ALICE)).toBe('implicit-deny');
  });
  it('a variable in a policy without Version is text (the other tool: Allowed)', () => {
    expect(
      decide({ Statement: [allow({ Resource: `${DBUSER}/${v('aws:username')}` })] }, ALICE),
    ).toBe('implicit-deny');
  });
  it('an empty Statement is refused (the other tool: ImplicitlyDenied)', () => {
    expect(codeOf(() => parsePolicyDocument({ Version: '2012-10-17', Statement: [] }))).toBe(
      'ERR_POLICY_NO_STATEMENT',
    );
  });
  it('a Resource that is not an ARN is refused (the other tool: Allowed)', () => {
    expect(
      codeOf(() => evaluatePolicies([doc(allow({ Resource: 'mydb' }))], { resource: ARN })),
    ).toBe('ERR_POLICY_RESOURCE');
  });
  it('an unknown condition operator is refused (the other tool: ImplicitlyDenied)', () => {
    expect(
      codeOf(() =>
        parsePolicyDocument(
          doc(allow({ Condition: { StringEqualz: { 'aws:username': 'alice' } } })),
        ),
      ),
    ).toBe('ERR_POLICY_CONDITION_OPERATOR');
  });
  it('a date value that is not a date is refused (the other tool: ImplicitlyDenied)', () => {
    expect(
      codeOf(() =>
        parsePolicyDocument(
          doc(allow({ Condition: { DateLessThan: { 'aws:CurrentTime': 'tomorrow' } } })),
        ),
      ),
    ).toBe('ERR_POLICY_CONDITION_VALUE');
  });
  it('a Sid with a space is refused (the other tool: Allowed)', () => {
    expect(codeOf(() => parsePolicyDocument(doc(allow({ Sid: 'a b' }))))).toBe('ERR_POLICY_SID');
  });
  it('a repeated Sid is refused (the other tool: Allowed)', () => {
    expect(codeOf(() => parsePolicyDocument(doc(allow({ Sid: 'a' }), allow({ Sid: 'a' }))))).toBe(
      'ERR_POLICY_SID',
    );
  });
});

describe('where it agrees with AWS (kept so a change is noticed)', () => {
  it('a misspelled Condtion is refused', () => {
    expect(codeOf(() => parsePolicyDocument(doc(allow({ Condtion: {} }))))).toBe(
      'ERR_POLICY_UNKNOWN_ELEMENT',
    );
  });
  it('StringNotEquals with the key absent holds', () => {
    expect(
      decide(doc(allow({ Condition: { StringNotEquals: { 'aws:PrincipalTag/team': 'x' } } }))),
    ).toBe('allow');
  });
  it('ForAllValues with the key absent holds', () => {
    expect(
      decide(doc(allow({ Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': 'x' } } }))),
    ).toBe('allow');
  });
  it("a default value fills an absent tag: ${aws:PrincipalTag/dbuser, 'alice'}", () => {
    expect(
      decide(doc(allow({ Resource: `${DBUSER}/${v("aws:PrincipalTag/dbuser, 'alice'")}` }))),
    ).toBe('allow');
  });
});
