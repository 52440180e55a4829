// compilePolicies: the documents are checked and parsed once, then evaluated for any number of
// requests with the same outcome as evaluatePolicies on the documents themselves.
import { describe, expect, it } from 'vitest';
import { compilePolicies, evaluatePolicies, type PolicyInput } from '../src/index.js';
import { ARN, allow, codeOf, DBUSER, deny, doc } from './helpers.js';

const BOB = `${DBUSER}/bob`;

describe('compilePolicies', () => {
  const documents: PolicyInput[] = [
    doc(allow({ Resource: `${DBUSER}/*` })),
    JSON.stringify(doc(deny({ Resource: BOB }))),
  ];

  it('evaluates as evaluatePolicies does on the documents, names included', () => {
    const names = ['allow.json', 'deny.json'];
    const compiled = compilePolicies(documents, { names });
    expect(compiled.names).toEqual(names);
    for (const resource of [ARN, BOB]) {
      const request = { resource, missing: 'absent' as const };
      expect(evaluatePolicies(compiled, request)).toEqual(
        evaluatePolicies(documents, request, { names }),
      );
    }
    expect(evaluatePolicies(compiled, { resource: BOB }).nearestMiss?.explanation).toMatch(
      /^deny\.json Statement\[0\] denies/,
    );
  });

  it('names documents policy N when no name is given', () => {
    expect(compilePolicies(documents).names).toEqual(['policy 0', 'policy 1']);
    expect(compilePolicies(documents, { names: ['a.json'] }).names).toEqual(['a.json', 'policy 1']);
  });

  it('reads the documents once: a later change to a document object changes nothing', () => {
    const statement = allow();
    const compiled = compilePolicies([doc(statement)]);
    statement.Effect = 'Deny';
    expect(evaluatePolicies(compiled, { resource: ARN }).decision).toBe('allow');
  });

  it('refuses what evaluatePolicies refuses, with the same code and message', () => {
    const bad = [doc(allow()), '{"Version": "2012-10-17", "Statement": []}'];
    const names = ['good.json', 'empty.json'];
    expect(codeOf(() => compilePolicies(bad, { names }))).toBe('ERR_POLICY_NO_STATEMENT');
    expect(() => compilePolicies(bad, { names })).toThrow(/^empty\.json has an empty "Statement"/);
    expect(() => evaluatePolicies(bad, { resource: ARN }, { names })).toThrow(
      /^empty\.json has an empty "Statement"/,
    );
  });

  it('takes no stand-in for a compiled handle', () => {
    const fake = { names: ['policy 0'] } as unknown as ReturnType<typeof compilePolicies>;
    expect(() => evaluatePolicies(fake, { resource: ARN })).toThrow(
      /an array of policy documents or what compilePolicies returned/,
    );
  });
});
