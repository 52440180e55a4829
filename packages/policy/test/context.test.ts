// The request context: keys derived from the principal as IAM derives them (IAM User Guide: "AWS global
// condition context keys": aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType, aws:username,
// aws:userid), and the checks on values given from the command line.
import { describe, expect, it } from 'vitest';
import {
  normalizeSourceIp,
  parseContextAssignment,
  principalContext,
  validateContext,
} from '../src/index.js';
import { codeOf } from './helpers.js';

describe('principalContext', () => {
  it.each([
    [
      'an IAM user: aws:username is its name',
      'arn:aws:iam::123456789012:user/alice',
      {
        'aws:PrincipalArn': 'arn:aws:iam::123456789012:user/alice',
        'aws:PrincipalAccount': '123456789012',
        'aws:PrincipalType': 'User',
        'aws:username': 'alice',
      },
    ],
    [
      'an IAM user with a path: the name is the last part',
      'arn:aws:iam::123456789012:user/division/team/alice',
      {
        'aws:PrincipalArn': 'arn:aws:iam::123456789012:user/division/team/alice',
        'aws:PrincipalAccount': '123456789012',
        'aws:PrincipalType': 'User',
        'aws:username': 'alice',
      },
    ],
    [
      'a role session: aws:PrincipalArn is the role, no aws:username',
      'arn:aws:sts::123456789012:assumed-role/app/i-0abc',
      {
        'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/app',
        'aws:PrincipalAccount': '123456789012',
        'aws:PrincipalType': 'AssumedRole',
      },
    ],
    [
      'a role ARN is read as a session of it',
      'arn:aws:iam::123456789012:role/service/app',
      {
        'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/service/app',
        'aws:PrincipalAccount': '123456789012',
        'aws:PrincipalType': 'AssumedRole',
      },
    ],
    [
      'a federated user: aws:userid is account:name',
      'arn:aws:sts::123456789012:federated-user/bob',
      {
        'aws:PrincipalArn': 'arn:aws:sts::123456789012:federated-user/bob',
        'aws:PrincipalAccount': '123456789012',
        'aws:PrincipalType': 'FederatedUser',
        'aws:userid': '123456789012:bob',
      },
    ],
    [
      'the account root: aws:userid is the account',
      'arn:aws:iam::123456789012:root',
      {
        'aws:PrincipalArn': 'arn:aws:iam::123456789012:root',
        'aws:PrincipalAccount': '123456789012',
        'aws:PrincipalType': 'Account',
        'aws:userid': '123456789012',
      },
    ],
    [
      'another partition',
      'arn:aws-cn:sts::123456789012:assumed-role/app/s',
      {
        'aws:PrincipalArn': 'arn:aws-cn:iam::123456789012:role/app',
        'aws:PrincipalAccount': '123456789012',
        'aws:PrincipalType': 'AssumedRole',
      },
    ],
  ])('%s', (_what, arn, expected) => {
    expect(principalContext(arn)).toEqual(expected);
  });

  it('adds tags as aws:PrincipalTag/KEY', () => {
    expect(principalContext('arn:aws:iam::123456789012:user/alice', { team: 'db' })).toMatchObject({
      'aws:PrincipalTag/team': 'db',
    });
  });

  it.each([
    'alice',
    'arn:aws:iam::1234:user/alice',
    'arn:aws:s3:::bucket',
    'arn:aws:sts::123456789012:assumed-role/app',
  ])('refuses %s with ERR_POLICY_CONTEXT', (arn) => {
    expect(codeOf(() => principalContext(arn))).toBe('ERR_POLICY_CONTEXT');
  });

  it('refuses a tag key IAM would not take', () => {
    expect(codeOf(() => principalContext('arn:aws:iam::123456789012:user/a', { 'a{b': 'x' }))).toBe(
      'ERR_POLICY_CONTEXT',
    );
  });
});

describe('validateContext', () => {
  it.each([
    [{ SourceIp: '10.0.0.1' }, /not a condition key/],
    [{ 'aws:SourceIp': '10.0.0.0/8' }, /aws:SourceIp "10.0.0.0\/8" is not an IP address/],
    [{ 'aws:SourceIp': 'office' }, /not an IP address/],
    [{ 'aws:CurrentTime': 'now' }, /aws:CurrentTime "now" is not a date/],
    [{ 'aws:EpochTime': '1.5' }, /not whole seconds/],
    [{ 'aws:SecureTransport': 'yes' }, /not true or false/],
  ])('refuses %j', (context, message) => {
    expect(codeOf(() => validateContext(context))).toBe('ERR_POLICY_CONTEXT');
    expect(() => validateContext(context)).toThrow(message);
  });

  it('accepts well-formed values, IPv6 and multivalued keys', () => {
    expect(() =>
      validateContext({
        'aws:SourceIp': '2001:db8::1',
        'aws:CurrentTime': '2025-06-01T12:00:00Z',
        'aws:EpochTime': 1748779200,
        'aws:SecureTransport': true,
        'aws:PrincipalServiceNamesList': ['a', 'b'],
      }),
    ).not.toThrow();
  });
});

describe('small helpers', () => {
  it('parses KEY=VALUE, keeping = in the value', () => {
    expect(parseContextAssignment('aws:PrincipalTag/x=a=b')).toEqual(['aws:PrincipalTag/x', 'a=b']);
    expect(codeOf(() => parseContextAssignment('aws:SourceIp'))).toBe('ERR_POLICY_CONTEXT');
    expect(codeOf(() => parseContextAssignment('=1'))).toBe('ERR_POLICY_CONTEXT');
  });
  it('writes IPv4 clients of a dual-stack socket as IPv4', () => {
    expect(normalizeSourceIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeSourceIp('::1')).toBe('::1');
    expect(normalizeSourceIp('10.0.0.1')).toBe('10.0.0.1');
  });
});
