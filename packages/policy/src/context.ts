import { RdsIamError } from '@rds-iam/core';
import { parseDate } from './conditions/date.js';
import { parseIpAddress } from './conditions/ip.js';

/** One context value: a string, or several for a multivalued key (`aws:TagKeys`). */
export type ContextValue = string | number | boolean | readonly (string | number | boolean)[];

/**
 * The request context IAM evaluates conditions and policy variables against: `aws:SourceIp`,
 * `aws:CurrentTime`, `aws:username`, `aws:PrincipalTag/team`, ... Key names compare case-insensitively,
 * as IAM's do.
 */
export type RequestContext = Readonly<Record<string, ContextValue>>;

/**
 * How to read a key the context does not have. `absent`: the request has no such key, and IAM's rules
 * for absent keys apply (the emulator, which builds the whole context of a login). `unknown`: the key was
 * not given, so whatever depends on it is undetermined (a check from the command line).
 */
export type MissingKeys = 'absent' | 'unknown';

/** What a key holds in the request. */
export type Lookup =
  | { kind: 'present'; values: readonly string[] }
  | { kind: 'absent' }
  | { kind: 'unknown' };

/** Reads a request context. */
export interface ContextReader {
  lookup(key: string): Lookup;
}

/**
 * A reader for `context`. With `missing: 'unknown'`, a key named in `complete` (or under a prefix there
 * that ends in `/`, such as `aws:PrincipalTag/`) is still known to be absent.
 */
export function contextReader(
  context: RequestContext,
  missing: MissingKeys,
  complete: readonly string[] = [],
): ContextReader {
  const values = new Map<string, string[]>();
  for (const [key, value] of Object.entries(context)) {
    const list = (Array.isArray(value) ? value : [value]).map(String);
    values.set(key.toLowerCase(), list);
  }
  const known = complete.map((k) => k.toLowerCase());
  return {
    lookup(key) {
      const found = values.get(key.toLowerCase());
      if (found) return { kind: 'present', values: found };
      if (missing === 'absent') return { kind: 'absent' };
      const k = key.toLowerCase();
      return known.some((c) => (c.endsWith('/') ? k.startsWith(c) : k === c))
        ? { kind: 'absent' }
        : { kind: 'unknown' };
    },
  };
}

const KEY = /^[A-Za-z0-9-]+:[A-Za-z0-9_.:/@+=,-]+$/;

function contextError(what: string): RdsIamError {
  return new RdsIamError('ERR_POLICY_CONTEXT', what);
}

/**
 * Checks a request context before it is used: key names are `vendor:name`, and the keys IAM fills
 * with typed values hold values of that type (`aws:SourceIp` an IP address, `aws:CurrentTime` a date,
 * `aws:EpochTime` seconds, `aws:SecureTransport` true or false). Throws `ERR_POLICY_CONTEXT`.
 *
 * @example
 * ```ts
 * validateContext({ 'aws:SourceIp': '203.0.113.7', 'aws:SecureTransport': 'true' });
 * ```
 */
export function validateContext(context: RequestContext): void {
  for (const [key, value] of Object.entries(context)) {
    if (!KEY.test(key)) {
      throw contextError(
        `the context key ${JSON.stringify(key)} is not a condition key: write it as vendor:name (aws:SourceIp, aws:PrincipalTag/team)`,
      );
    }
    const list = (Array.isArray(value) ? value : [value]).map(String);
    const k = key.toLowerCase();
    for (const v of list) {
      if (k === 'aws:sourceip' && (parseIpAddress(v) === undefined || v.includes('/'))) {
        throw contextError(
          `aws:SourceIp ${JSON.stringify(v)} is not an IP address (203.0.113.7 or 2001:db8::7)`,
        );
      }
      if (k === 'aws:currenttime' && parseDate(v) === undefined) {
        throw contextError(
          `aws:CurrentTime ${JSON.stringify(v)} is not a date: use ISO 8601, for example 2025-06-01T12:00:00Z`,
        );
      }
      if (k === 'aws:epochtime' && !/^\d+$/.test(v)) {
        throw contextError(`aws:EpochTime ${JSON.stringify(v)} is not whole seconds since 1970`);
      }
      if (
        ['aws:securetransport', 'aws:multifactorauthpresent', 'aws:viaawsservice'].includes(k) &&
        !/^(true|false)$/i.test(v)
      ) {
        throw contextError(`${key} ${JSON.stringify(v)} is not true or false`);
      }
    }
  }
}

/**
 * An address as AWS sees it: an IPv4 address that arrived as IPv6 (`::ffff:10.0.0.1`, as a dual-stack
 * socket reports it) written as IPv4.
 *
 * @example
 * ```ts
 * const context = { 'aws:SourceIp': normalizeSourceIp(socket.remoteAddress ?? '') };
 * ```
 */
export function normalizeSourceIp(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}

/**
 * `KEY=VALUE` from the command line, split at the first `=`. Throws `ERR_POLICY_CONTEXT` without one.
 *
 * @example
 * ```ts
 * parseContextAssignment('aws:PrincipalTag/team=db'); // ['aws:PrincipalTag/team', 'db']
 * ```
 */
export function parseContextAssignment(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) {
    throw contextError(
      `${JSON.stringify(text)} is not KEY=VALUE (for example aws:SourceIp=203.0.113.7)`,
    );
  }
  return [text.slice(0, at).trim(), text.slice(at + 1)];
}

/** The kinds of IAM principal that `aws:PrincipalType` names. */
export type PrincipalType = 'Account' | 'User' | 'FederatedUser' | 'AssumedRole';

/**
 * The context keys IAM derives from who signed the request, for a principal given by its ARN: an
 * IAM user `arn:aws:iam::123456789012:user/alice`, a role session
 * `arn:aws:sts::123456789012:assumed-role/app/i-0abc` (a role ARN is read as a session of that role), a
 * federated user `arn:aws:sts::123456789012:federated-user/bob`, or the account root
 * `arn:aws:iam::123456789012:root`. Fills `aws:PrincipalArn` (the role's ARN for a role session),
 * `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:username` (IAM users only) and `aws:userid` where
 * the ARN determines it (root, federated user); for users and roles `aws:userid` holds IAM's unique id
 * (AIDA..., AROA...:session), which the ARN does not carry: give it as a context key. `tags` become
 * `aws:PrincipalTag/KEY`. Throws `ERR_POLICY_CONTEXT` for anything else.
 *
 * @example
 * ```ts
 * principalContext('arn:aws:iam::123456789012:user/alice', { team: 'db' });
 * // { 'aws:PrincipalArn': 'arn:aws:iam::123456789012:user/alice', 'aws:PrincipalAccount': '123456789012',
 * //   'aws:PrincipalType': 'User', 'aws:username': 'alice', 'aws:PrincipalTag/team': 'db' }
 * ```
 */
export function principalContext(
  arn: string,
  tags: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const m = /^arn:(aws[a-z-]*):(iam|sts)::(\d{12}):(.+)$/.exec(arn);
  const fail = () =>
    contextError(
      `${JSON.stringify(arn)} is not the ARN of an IAM user, role, role session, federated user or account root (arn:aws:iam::123456789012:user/alice)`,
    );
  if (!m) throw fail();
  const [, partition, service, account, rest = ''] = m;
  const out: Record<string, string> = { 'aws:PrincipalAccount': account ?? '' };
  const user = /^user\/(?:.*\/)?([^/]+)$/.exec(rest);
  const session = /^assumed-role\/([^/]+)\/[^/]+$/.exec(rest);
  const federated = /^federated-user\/([^/]+)$/.exec(rest);
  if (service === 'iam' && rest === 'root') {
    Object.assign(out, {
      'aws:PrincipalArn': arn,
      'aws:PrincipalType': 'Account',
      'aws:userid': account,
    });
  } else if (service === 'iam' && user) {
    Object.assign(out, {
      'aws:PrincipalArn': arn,
      'aws:PrincipalType': 'User',
      'aws:username': user[1],
    });
  } else if (service === 'iam' && /^role\/(?:.*\/)?[^/]+$/.test(rest)) {
    Object.assign(out, { 'aws:PrincipalArn': arn, 'aws:PrincipalType': 'AssumedRole' });
  } else if (service === 'sts' && session) {
    Object.assign(out, {
      // For a role session IAM names the role, not the session (a role's path is not in the session ARN).
      'aws:PrincipalArn': `arn:${partition}:iam::${account}:role/${session[1]}`,
      'aws:PrincipalType': 'AssumedRole',
    });
  } else if (service === 'sts' && federated) {
    Object.assign(out, {
      'aws:PrincipalArn': arn,
      'aws:PrincipalType': 'FederatedUser',
      'aws:userid': `${account}:${federated[1]}`,
    });
  } else {
    throw fail();
  }
  for (const [key, value] of Object.entries(tags)) {
    if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u.test(key)) {
      throw contextError(`the principal tag key ${JSON.stringify(key)} is not an IAM tag key`);
    }
    out[`aws:PrincipalTag/${key}`] = value;
  }
  return out;
}
