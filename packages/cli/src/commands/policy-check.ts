import { dbUserArn, evaluatePolicies, type PolicyEvaluation } from '@rds-iam/policy';
import { COMMON_OPTIONS, noExtraPositionals, parse } from '../args.js';
import { EXIT, UsageError } from '../errors.js';
import { type Io, styleFor, writeJson } from '../io.js';
import { readPolicyFiles } from '../policy-files.js';
import { CONTEXT_OPTIONS, requestContextOf } from '../request-context.js';
import { POLICY_TARGET_OPTIONS, resolvePolicyTarget } from './policy-target.js';

/** One user's evaluation, as `--json` prints it. */
export interface UserDecision extends PolicyEvaluation {
  user: string;
}

/**
 * `rds-iam policy check`: evaluates `--policy-file` documents for `rds-db:connect` as each `--user`
 * (target options shared with `rds-iam policy`) with the request context of `--context` and its
 * shorthands. Exit 0 when all are allowed, 1 for a deny or a decision that depends on a key not given.
 */
export async function runPolicyCheck(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...COMMON_OPTIONS,
    ...POLICY_TARGET_OPTIONS,
    ...CONTEXT_OPTIONS,
    'policy-file': { type: 'string', multiple: true },
  });
  noExtraPositionals(positionals);
  const paths = values['policy-file'] ?? [];
  if (paths.length === 0) {
    throw new UsageError(
      '--policy-file is required (repeat it for several; "-" reads standard input)',
    );
  }
  const target = await resolvePolicyTarget(values, io);
  const { context, complete } = requestContextOf(values, target.region);
  const policies = await readPolicyFiles(paths, io);
  const results: UserDecision[] = target.users.map((user) => ({
    user,
    ...evaluatePolicies(policies, {
      resource: dbUserArn({ ...target, user }),
      context,
      complete,
    }),
  }));
  // The first deny decides the command's answer: one refused user is a refused login.
  const first = results.find((r) => r.decision !== 'allow') ?? results[0];
  if (first === undefined) throw new UsageError('--user is required');
  if (values.json) {
    for (const r of results) warnMissingContext(io, r);
    writeJson(io.stdout, { ...first, ...(results.length > 1 ? { results } : {}) });
  } else {
    for (const r of results) printDecision(io, r, policies.names);
  }
  return first.decision === 'allow' ? EXIT.OK : EXIT.FAILED;
}

/** The text form of one decision: the decision and ARN, the deciding statement, the nearest miss. */
export function printDecision(io: Io, r: PolicyEvaluation, names: readonly string[]): void {
  const style = styleFor(io.stdout, io.env);
  const word = r.decision === 'allow' ? style.green(r.decision) : style.red(r.decision);
  io.stdout.write(
    r.determined
      ? `${word}: ${r.action} on ${r.resource}\n`
      : `${style.red('undetermined')}: ${r.action} on ${r.resource} depends on ${r.missingContext.join(', ')}, which the request did not carry; at best ${word}\n`,
  );
  if (r.decidedBy) {
    const { policy, statement, sid } = r.decidedBy;
    io.stdout.write(
      `  decided by ${names[policy] ?? `policy ${policy}`} Statement[${statement}]${sid ? ` (Sid ${sid})` : ''}\n`,
    );
  }
  if (!r.determined && r.ifAbsent) {
    io.stdout.write(`  if the request has no ${r.missingContext.join(', ')}: ${r.ifAbsent}\n`);
  }
  if (r.decision !== 'allow' && r.nearestMiss) {
    io.stdout.write(`  nearest miss: ${r.nearestMiss.explanation}\n`);
  }
  if (r.decision === 'implicit-deny' && !r.nearestMiss) {
    io.stdout.write('  no Allow statement in the policies; IAM denies by default\n');
  }
  warnMissingContext(io, r);
}

/**
 * On standard error in text and JSON mode alike: a decision that rests on context keys the request
 * did not carry, and how to give them.
 */
export function warnMissingContext(io: Io, r: PolicyEvaluation): void {
  if (r.missingContext.length === 0) return;
  const keys = r.missingContext.join(', ');
  io.stderr.write(
    r.determined
      ? `${styleFor(io.stderr, io.env).yellow('warning:')} ${r.decision} for ${r.resource} rests on ${keys} being absent from the request\n`
      : `${styleFor(io.stderr, io.env).yellow('warning:')} the decision for ${r.resource} depends on ${keys}, which the request did not carry: it is not an allow; give ${r.missingContext.length === 1 ? 'it' : 'them'} with --context KEY=VALUE\n`,
  );
}
