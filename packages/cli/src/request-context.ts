import {
  parseContextAssignment,
  parseDate,
  principalContext,
  type RequestContext,
  validateContext,
} from '@rds-iam/policy';

/** The options `policy check` and `doctor --policy-file` share to describe the request. */
export const CONTEXT_OPTIONS = {
  context: { type: 'string', multiple: true },
  'source-ip': { type: 'string' },
  'principal-arn': { type: 'string' },
  'principal-tag': { type: 'string', multiple: true },
  time: { type: 'string' },
} as const;

/** The help lines of {@link CONTEXT_OPTIONS}. */
export const CONTEXT_HELP = `  --context <KEY=VALUE>   a request context key the policy's conditions or variables read;
                          repeat it (a key given twice holds both values)
  --source-ip <ip>        aws:SourceIp: the client's address as RDS sees it
  --principal-arn <arn>   who signs the token (arn:aws:iam::ACCOUNT:user/NAME, a role or a role
                          session): aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType and,
                          for an IAM user, aws:username, as IAM derives them
  --principal-tag <K=V>   aws:PrincipalTag/K; repeat it. With any tag given, tags not given count as
                          absent
  --time <when>           aws:CurrentTime and aws:EpochTime: "now", an ISO 8601 date (UTC when it
                          names no zone) or epoch seconds
aws:RequestedRegion is the database's region unless --context names another. A key the policy needs
and the request does not carry leaves the decision undetermined (never an allow), on stderr too.`;

/** The values parsed from {@link CONTEXT_OPTIONS}. */
export interface ContextValues {
  context?: string[] | undefined;
  'source-ip'?: string | undefined;
  'principal-arn'?: string | undefined;
  'principal-tag'?: string[] | undefined;
  time?: string | undefined;
}

/** A request context and the key prefixes it gives completely. */
export interface CommandLineContext {
  context: RequestContext;
  complete: string[];
}

/**
 * The request context from the command line: shorthands first, then `--context` entries, which win.
 * Throws `ERR_POLICY_CONTEXT` (exit 2) for a malformed key or value.
 */
export function requestContextOf(
  values: ContextValues,
  region: string,
  now: () => number = Date.now,
): CommandLineContext {
  const tags: Record<string, string> = {};
  for (const entry of values['principal-tag'] ?? []) {
    const [key, value] = parseContextAssignment(entry);
    tags[key] = value;
  }
  const context: Record<string, string | string[]> = { 'aws:RequestedRegion': region };
  const principal = values['principal-arn'];
  if (principal !== undefined) Object.assign(context, principalContext(principal, tags));
  else for (const [k, v] of Object.entries(tags)) context[`aws:PrincipalTag/${k}`] = v;
  if (values['source-ip'] !== undefined) context['aws:SourceIp'] = values['source-ip'];
  if (values.time !== undefined) Object.assign(context, timeContext(values.time, now));
  const given = new Map<string, string[]>();
  for (const entry of values.context ?? []) {
    const [key, value] = parseContextAssignment(entry);
    given.set(key, [...(given.get(key) ?? []), value]);
  }
  for (const [key, list] of given) {
    // The shorthand's key, written in another case, is the same key: the --context entry replaces it.
    for (const k of Object.keys(context))
      if (k.toLowerCase() === key.toLowerCase()) delete context[k];
    context[key] = list.length === 1 ? (list[0] ?? '') : list;
  }
  validateContext(context);
  const complete = Object.keys(tags).length > 0 ? ['aws:PrincipalTag/'] : [];
  // The ARN settles whether there is an aws:username: a role session or the root has none.
  if (principal !== undefined) complete.push('aws:username');
  return { context, complete };
}

/**
 * `--time` read as the policy reads `aws:CurrentTime`: a date without a zone is UTC, and a day that
 * does not exist is refused rather than rolled over into the next month.
 */
function timeContext(when: string, now: () => number): Record<string, string> {
  const ms = when === 'now' ? now() : parseDate(when);
  if (ms === undefined) return { 'aws:CurrentTime': when }; // validateContext names the bad value
  return {
    'aws:CurrentTime': new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'aws:EpochTime': String(Math.floor(ms / 1000)),
  };
}
