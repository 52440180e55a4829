import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { RdsIamError, redact } from '../src/index.js';

const SIG = 'a'.repeat(64);
const TOKEN = `db.example.com:5432/?Action=connect&DBUser=app&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2F%2Fsecret&X-Amz-Signature=${SIG}&X-Amz-SignedHeaders=host`;

describe('redact', () => {
  it('strips signatures and session tokens, raw and URL-encoded, and keeps the rest', () => {
    const text = redact(`failed: ${TOKEN} and postgres://app:${encodeURIComponent(TOKEN)}@db/x`);
    expect(text).not.toContain(SIG);
    expect(text).not.toContain('IQoJb3JpZ2luX2VjEJr');
    expect(text).toContain('DBUser=app');
    expect(text).toContain('X-Amz-Signature=[redacted]');
    expect(text).toContain('X-Amz-Signature%3D[redacted]');
    expect(redact('nothing secret here')).toBe('nothing secret here');
  });
});

describe('RdsIamError', () => {
  it('redacts its message, stack and a cause chain, and keeps the cause’s code', () => {
    const cause = Object.assign(new Error(`password was ${TOKEN}`, { cause: new Error(TOKEN) }), {
      code: '28P01',
    });
    const err = new RdsIamError('ERR_AUTH_REJECTED', `rejected ${TOKEN}`, { cause });
    const everything = [
      err.message,
      err.stack,
      inspect(err, { depth: 10 }),
      JSON.stringify(err),
    ].join();
    expect(everything).not.toContain(SIG);
    expect(everything).not.toContain('IQoJb3JpZ2luX2VjEJr');
    expect(err.code).toBe('ERR_AUTH_REJECTED');
    expect((err.cause as { code?: string }).code).toBe('28P01');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('RdsIamError');
  });
});
