// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM writes its policy variables as ${key}, and these tests quote them.
// A decision that rests on a key the request did not carry. With `missing: 'unknown'` (a check from the
// command line: the key was not given) the decision is undetermined and never an allow; with
// `missing: 'absent'` (the emulator, which knows the whole request) IAM's rules for absent keys decide,
// and the keys are still named.
import { describe, expect, it } from 'vitest';
import { evaluatePolicies, type PolicyInput, type RequestContext } from '../src/index.js';
import { ARN, allow, DBUSER, deny, doc } from './helpers.js';

const v = (body: string) => `$${`{${body}}`}`;
const ALLOW_ALL = allow({ Resource: '*' });
const officeOnly = doc(
  ALLOW_ALL,
  deny({ Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }),
);
const untilNewYear = doc(
  ALLOW_ALL,
  deny({ Condition: { DateGreaterThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } } }),
);
const tlsOnly = doc(ALLOW_ALL, deny({ Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
const ownUserOnly = doc(ALLOW_ALL, {
  Effect: 'Deny',
  Action: 'rds-db:connect',
  NotResource: `${DBUSER}/${v('aws:username')}`,
});
const byTag = doc(allow({ Resource: `${DBUSER}/${v('aws:PrincipalTag/dbuser')}` }));

function check(policy: PolicyInput, context: RequestContext = {}, extra = {}) {
  return evaluatePolicies([policy], { resource: ARN, context, ...extra });
}

describe('missing keys, not given (the default)', () => {
  it.each([
    [
      'NotIpAddress without aws:SourceIp',
      officeOnly,
      'explicit-deny',
      ['aws:SourceIp'],
      'explicit-deny',
    ],
    [
      'DateGreaterThan without aws:CurrentTime',
      untilNewYear,
      'explicit-deny',
      ['aws:CurrentTime'],
      'allow',
    ],
    [
      'Bool SecureTransport without aws:SecureTransport',
      tlsOnly,
      'explicit-deny',
      ['aws:SecureTransport'],
      'allow',
    ],
    [
      'NotResource .../${aws:username} without the principal',
      ownUserOnly,
      'explicit-deny',
      ['aws:username'],
      'explicit-deny',
    ],
    [
      'an Allow on .../${aws:PrincipalTag/dbuser} without tags',
      byTag,
      'implicit-deny',
      ['aws:PrincipalTag/dbuser'],
      'implicit-deny',
    ],
  ] as const)(
    '%s: never allow, says which keys, and what IAM decides if they are absent',
    (_w, policy, decision, keys, ifAbsent) => {
      const r = check(policy);
      expect(r.decision).toBe(decision);
      expect(r.determined).toBe(false);
      expect(r.missingContext).toEqual(keys);
      expect(r.ifAbsent).toBe(ifAbsent);
      expect(r.decidedBy).toBeUndefined();
      expect(r.nearestMiss?.missing).toEqual(keys);
      expect(r.nearestMiss?.explanation).toContain('which the request did not carry');
    },
  );

  it.each([
    ['the client inside the range', officeOnly, { 'aws:SourceIp': '10.1.2.3' }, 'allow'],
    ['the client outside the range', officeOnly, { 'aws:SourceIp': '192.0.2.1' }, 'explicit-deny'],
    ['before the cut-off', untilNewYear, { 'aws:CurrentTime': '2025-12-31T23:59:59Z' }, 'allow'],
    [
      'after the cut-off',
      untilNewYear,
      { 'aws:CurrentTime': '2026-01-01T00:00:01Z' },
      'explicit-deny',
    ],
    ['over TLS', tlsOnly, { 'aws:SecureTransport': 'true' }, 'allow'],
    ['the own user', ownUserOnly, { 'aws:username': 'alice' }, 'allow'],
    ['another user', ownUserOnly, { 'aws:username': 'bob' }, 'explicit-deny'],
    ['the tag names the user', byTag, { 'aws:PrincipalTag/dbuser': 'alice' }, 'allow'],
  ] as const)('given the key, the decision is determined: %s', (_w, policy, context, decision) => {
    const r = check(policy, context);
    expect(r.decision).toBe(decision);
    expect(r.determined).toBe(true);
    expect(r.missingContext).toEqual([]);
    expect(r.ifAbsent).toBeUndefined();
  });

  it('a Deny that applies without the missing key decides: nothing is missing', () => {
    const policy = doc(
      ALLOW_ALL,
      deny(),
      deny({ Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }),
    );
    const r = check(policy);
    expect(r).toMatchObject({ decision: 'explicit-deny', determined: true, missingContext: [] });
    expect(r.decidedBy).toMatchObject({ statement: 1 });
  });

  it('a statement settled by a part that needs no context needs nothing', () => {
    // The Deny's resource is another user's: whatever aws:SourceIp is, it does not apply.
    const policy = doc(
      ALLOW_ALL,
      deny({
        Resource: `${DBUSER}/bob`,
        Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
      }),
    );
    expect(check(policy)).toMatchObject({
      decision: 'allow',
      determined: true,
      missingContext: [],
    });
  });

  it('a Resource whose written parts already differ does not wait for its variable', () => {
    const policy = doc(
      allow({
        Resource: `arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABC/${v('aws:username')}`,
      }),
    );
    expect(check(policy)).toMatchObject({ decision: 'implicit-deny', determined: true });
  });

  it('complete prefixes: given tags are all the tags, so an absent one is absent', () => {
    const policy = doc(
      ALLOW_ALL,
      deny({ Condition: { StringNotEquals: { 'aws:PrincipalTag/team': 'db' } } }),
    );
    const given = { 'aws:PrincipalTag/env': 'prod' };
    expect(check(policy, given).determined).toBe(false);
    expect(check(policy, given, { complete: ['aws:PrincipalTag/'] })).toMatchObject({
      decision: 'explicit-deny',
      determined: true,
      missingContext: ['aws:PrincipalTag/team'],
    });
  });

  it('an Allow that may apply is named as the nearest miss, with its condition', () => {
    const policy = doc(allow({ Condition: { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } } }));
    const r = check(policy);
    expect(r).toMatchObject({
      decision: 'implicit-deny',
      determined: false,
      ifAbsent: 'implicit-deny',
    });
    expect(r.nearestMiss?.explanation).toBe(
      `policy 0 Statement[0] would allow rds-db:connect on ${ARN} depending on aws:SourceIp, which the request did not carry (IpAddress {"aws:SourceIp": "203.0.113.0/24"}: aws:SourceIp was not given)`,
    );
  });
});

describe('missing keys, absent from the request (the emulator)', () => {
  const absent = { missing: 'absent' as const };
  it.each([
    [
      'NotIpAddress: an absent key makes the negated operator true',
      officeOnly,
      'explicit-deny',
      ['aws:SourceIp'],
    ],
    ['DateGreaterThan: an absent key makes it false', untilNewYear, 'allow', ['aws:CurrentTime']],
    ['Bool: an absent key makes it false', tlsOnly, 'allow', ['aws:SecureTransport']],
    [
      'NotResource with an absent variable covers nothing, so the Deny applies',
      ownUserOnly,
      'explicit-deny',
      ['aws:username'],
    ],
    [
      'an Allow with an absent variable matches nothing',
      byTag,
      'implicit-deny',
      ['aws:PrincipalTag/dbuser'],
    ],
  ] as const)('%s', (_w, policy, decision, keys) => {
    const r = check(policy, {}, absent);
    expect(r).toMatchObject({ decision, determined: true, missingContext: keys });
    expect(r.ifAbsent).toBeUndefined();
  });

  it('an allow that rests on an absent key says so', () => {
    const r = check(untilNewYear, {}, absent);
    expect(r.decision).toBe('allow');
    expect(r.missingContext).toEqual(['aws:CurrentTime']);
    expect(r.statements.find((s) => s.effect === 'Deny')).toMatchObject({
      applies: false,
      missing: ['aws:CurrentTime'],
      reason:
        'DateGreaterThan {"aws:CurrentTime": "2026-01-01T00:00:00Z"}: the request has no aws:CurrentTime',
    });
  });

  it('the deciding Deny names the absent key', () => {
    expect(check(officeOnly, {}, absent).nearestMiss?.explanation).toContain(
      'denies rds-db:connect on arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABC/alice (because the request has no aws:SourceIp)',
    );
  });

  it('lists every statement whose action covers the request, with how it came out', () => {
    const r = check(officeOnly, { 'aws:SourceIp': '10.0.0.1' }, absent);
    expect(r.statements).toEqual([
      expect.objectContaining({ statement: 0, effect: 'Allow', applies: true, missing: [] }),
      expect.objectContaining({
        statement: 1,
        effect: 'Deny',
        applies: false,
        reason:
          'NotIpAddress {"aws:SourceIp": "10.0.0.0/8"}: the request has aws:SourceIp = "10.0.0.1"',
      }),
    ]);
  });
});
