import { RdsIamError } from '@rds-iam/core';
import { splitArnPieces } from './arn.js';
import { grammarError, type Where } from './errors.js';
import { closest, closestOperator, type Operator, parseOperator } from './operators.js';
import { isVariable, parseTemplate, type Template } from './variables.js';

/** A policy as given: its JSON text, or the parsed document. */
export type PolicyInput = string | Readonly<Record<string, unknown>>;

/** Where a statement is: the document's position in the list given, its `Statement` index and `Sid`. */
export interface PolicyStatementRef {
  /** 0-based position of the document in the list passed to `evaluatePolicies`. */
  policy: number;
  /** 0-based index in the document's `Statement` array (0 when `Statement` is a single object). */
  statement: number;
  /** The statement's `Sid`, when it has one. */
  sid?: string;
  /** `Allow` or `Deny`. */
  effect: 'Allow' | 'Deny';
}

/** One value of a condition: its template, and its parsed form when it holds no variable. */
export interface ConditionValue {
  written: string;
  template: Template;
  parsed?: unknown;
}

/** One operator and key of a `Condition`, with the key's values (OR between them). */
export interface ConditionClause {
  operator: Operator;
  key: string;
  values: ConditionValue[];
}

/** A `Resource` / `NotResource` entry: `*`, or an ARN pattern that may hold variables. */
export interface ResourcePattern {
  written: string;
  template: Template;
}

/** A statement after IAM's grammar checks. */
export interface ParsedStatement {
  ref: PolicyStatementRef;
  action?: string[];
  notAction?: string[];
  resource?: ResourcePattern[];
  notResource?: ResourcePattern[];
  conditions: ConditionClause[];
}

const TOP_LEVEL = ['Version', 'Id', 'Statement'];
const STATEMENT = [
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
];

/** The JSON object of a policy, or the coded error for text that is not one. */
export function toDocument(input: PolicyInput, label: string): Record<string, unknown> {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (err) {
      throw new RdsIamError(
        'ERR_POLICY_NOT_JSON',
        `${label} is not JSON (${(err as Error).message}); give the policy document itself, for example the output of rds-iam policy`,
      );
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw grammarError(
      'ERR_POLICY_INVALID',
      { label },
      'a policy document is a JSON object with "Version" and "Statement"',
    );
  }
  return doc as Record<string, unknown>;
}

/**
 * Checks a document against IAM's grammar for identity policies and returns its statements, ready to
 * evaluate. Everything IAM would refuse throws a coded {@link RdsIamError} naming the place.
 */
export function parsePolicy(input: PolicyInput, index: number, label: string): ParsedStatement[] {
  const doc = toDocument(input, label);
  const where: Where = { label };
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL.includes(key)) throw unknownElement(where, key, TOP_LEVEL);
  }
  if (!('Statement' in doc)) {
    throw new RdsIamError(
      'ERR_POLICY_NO_STATEMENT',
      `${label} has no "Statement"; a policy document is {"Version": "2012-10-17", "Statement": [...]}`,
    );
  }
  const version = doc.Version;
  if (version !== undefined && version !== '2012-10-17' && version !== '2008-10-17') {
    throw grammarError(
      'ERR_POLICY_INVALID',
      where,
      `"Version" must be "2012-10-17" (got ${JSON.stringify(version)})`,
    );
  }
  if (doc.Id !== undefined && typeof doc.Id !== 'string') {
    throw grammarError('ERR_POLICY_INVALID', where, '"Id" must be a string');
  }
  // Policy variables exist from 2012-10-17 on; before (or without Version) `${...}` is plain text.
  const variables = version === '2012-10-17';
  const raw = doc.Statement;
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) {
    throw new RdsIamError(
      'ERR_POLICY_NO_STATEMENT',
      `${label} has an empty "Statement"; IAM refuses a policy without statements`,
    );
  }
  const statements = list.map((s, i) =>
    parseStatement(s, index, { label, statement: i }, variables),
  );
  const seen = new Map<string, number>();
  for (const s of statements) {
    if (s.ref.sid === undefined) continue;
    const first = seen.get(s.ref.sid);
    if (first !== undefined) {
      throw grammarError(
        'ERR_POLICY_SID',
        { label, statement: s.ref.statement },
        `"Sid" ${JSON.stringify(s.ref.sid)} is already the Sid of Statement[${first}]; Sids must be unique in a policy`,
      );
    }
    seen.set(s.ref.sid, s.ref.statement);
  }
  return statements;
}

function unknownElement(where: Where, key: string, known: readonly string[]): RdsIamError {
  const near = closest(key, known);
  return grammarError(
    'ERR_POLICY_UNKNOWN_ELEMENT',
    where,
    `unknown element ${JSON.stringify(key)}${near ? ` (did you mean "${near}"?)` : ''}; ${where.statement === undefined ? 'a policy has' : 'a statement has'} only ${known.map((k) => `"${k}"`).join(', ')}`,
  );
}

function parseStatement(
  raw: unknown,
  policy: number,
  where: Where,
  variables: boolean,
): ParsedStatement {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw grammarError('ERR_POLICY_INVALID', where, 'is not an object');
  }
  const s = raw as Record<string, unknown>;
  for (const key of Object.keys(s)) {
    if (!STATEMENT.includes(key)) throw unknownElement(where, key, STATEMENT);
  }
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') {
    throw grammarError(
      'ERR_POLICY_INVALID',
      where,
      `has "Effect" ${JSON.stringify(s.Effect)}; it must be "Allow" or "Deny"`,
    );
  }
  if (s.Sid !== undefined) {
    if (typeof s.Sid !== 'string')
      throw grammarError('ERR_POLICY_SID', where, '"Sid" is not a string');
    if (!/^[A-Za-z0-9]*$/.test(s.Sid)) {
      throw grammarError(
        'ERR_POLICY_SID',
        where,
        `"Sid" ${JSON.stringify(s.Sid)} has characters other than A-Z, a-z and 0-9`,
      );
    }
  }
  if ('Principal' in s || 'NotPrincipal' in s) {
    throw grammarError(
      'ERR_POLICY_INVALID',
      where,
      'has a "Principal": that belongs in a resource or trust policy, not in the identity policy IAM evaluates for rds-db:connect',
    );
  }
  const ref: PolicyStatementRef = {
    policy,
    statement: where.statement ?? 0,
    effect: s.Effect,
    ...(typeof s.Sid === 'string' && s.Sid !== '' ? { sid: s.Sid } : {}),
  };
  const action = pair(s, 'Action', 'NotAction', where);
  for (const a of action.values) checkAction(a, where, action.key);
  const res = pair(s, 'Resource', 'NotResource', where);
  const resources = res.values.map((r) => resourcePattern(r, where, res.key, variables));
  return {
    ref,
    ...(action.key === 'Action' ? { action: action.values } : { notAction: action.values }),
    ...(res.key === 'Resource' ? { resource: resources } : { notResource: resources }),
    conditions: parseCondition(s.Condition, where, variables),
  };
}

/** Exactly one of `key` / `notKey`, a string or a non-empty array of strings. */
function pair(
  s: Record<string, unknown>,
  key: string,
  notKey: string,
  where: Where,
): { key: string; values: string[] } {
  const has = key in s;
  const hasNot = notKey in s;
  if (has === hasNot) {
    throw grammarError(
      'ERR_POLICY_INVALID',
      where,
      `needs exactly one of "${key}" and "${notKey}"`,
    );
  }
  const name = has ? key : notKey;
  const value = s[name];
  const values = typeof value === 'string' ? [value] : value;
  if (
    !Array.isArray(values) ||
    values.length === 0 ||
    !values.every((v) => typeof v === 'string')
  ) {
    throw grammarError(
      'ERR_POLICY_INVALID',
      where,
      `"${name}" must be a string or a non-empty array of strings`,
    );
  }
  return { key: name, values: values as string[] };
}

/** `*`, or `vendor:action` where the vendor is letters, digits and hyphens (no wildcard). */
function checkAction(action: string, where: Where, element: string): void {
  if (action === '*' || /^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$/.test(action)) return;
  const [vendor] = action.split(':');
  throw grammarError(
    'ERR_POLICY_ACTION',
    where,
    `"${element}" ${JSON.stringify(action)} is not an action: write "*" or vendor:action (rds-db:connect)${
      action.includes(':') && vendor !== undefined && !/^[A-Za-z0-9-]+$/.test(vendor)
        ? `; the vendor ${JSON.stringify(vendor)} may hold letters, digits and hyphens only, no wildcard`
        : ''
    }`,
  );
}

function resourcePattern(
  written: string,
  where: Where,
  element: string,
  variables: boolean,
): ResourcePattern {
  const template = parseTemplate(written, variables);
  if (written === '*') return { written, template };
  // The ARN's shape is checked on the written text, with each variable standing for one character.
  const shape = template.map((p) => (isVariable(p) ? { text: 'x', literal: true } : p));
  if (!splitArnPieces(shape)) {
    throw grammarError(
      'ERR_POLICY_RESOURCE',
      where,
      `"${element}" ${JSON.stringify(written)} is not an ARN: write "*" or arn:partition:service:region:account:resource (arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABC/app)`,
    );
  }
  return { written, template };
}

function parseCondition(condition: unknown, where: Where, variables: boolean): ConditionClause[] {
  if (condition === undefined) return [];
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) {
    throw grammarError('ERR_POLICY_INVALID', where, '"Condition" must be an object of operators');
  }
  const clauses: ConditionClause[] = [];
  for (const [name, block] of Object.entries(condition)) {
    const operator = parseOperator(name);
    if (!operator) {
      const near = closestOperator(name);
      throw grammarError(
        'ERR_POLICY_CONDITION_OPERATOR',
        where,
        `the condition operator ${JSON.stringify(name)} does not exist${near ? ` (did you mean "${near}"?)` : ''}`,
        'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html',
      );
    }
    if (typeof block !== 'object' || block === null || Array.isArray(block)) {
      throw grammarError(
        'ERR_POLICY_INVALID',
        where,
        `Condition "${name}" must be an object of condition keys`,
      );
    }
    for (const [key, value] of Object.entries(block as Record<string, unknown>)) {
      clauses.push({
        operator,
        key,
        values: conditionValues(operator, key, value, where, variables),
      });
    }
  }
  return clauses;
}

function conditionValues(
  operator: Operator,
  key: string,
  value: unknown,
  where: Where,
  variables: boolean,
): ConditionValue[] {
  const list = Array.isArray(value) ? value : [value];
  const at = `Condition "${operator.name}" "${key}"`;
  if (
    list.length === 0 ||
    !list.every((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
  ) {
    throw grammarError(
      'ERR_POLICY_CONDITION_VALUE',
      where,
      `${at} must be a string, number or boolean, or a non-empty array of them`,
    );
  }
  return list.map((v) => {
    const written = String(v);
    if (operator.family === null) {
      if (!/^(true|false)$/i.test(written)) {
        throw valueError(where, at, written, 'true or false');
      }
      return { written, template: [{ text: written.toLowerCase(), literal: false }] };
    }
    const template = parseTemplate(written, variables && operator.family.variables);
    if (template.some(isVariable)) return { written, template };
    const parsed = operator.family.parse(template as { text: string; literal: boolean }[]);
    if (parsed === undefined) throw valueError(where, at, written, operator.family.expects);
    return { written, template, parsed };
  });
}

function valueError(where: Where, at: string, written: string, expects: string): RdsIamError {
  return grammarError(
    'ERR_POLICY_CONDITION_VALUE',
    where,
    `${at} has ${JSON.stringify(written)}, which is not ${expects}`,
    'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html',
  );
}
