import { afterEach, describe, expect, it } from 'vitest';
import { loadEngine, RdsIamError, refuseForcedPgNative } from '../src/index.js';

describe('loadEngine', () => {
  it('returns what the loader loads, and names the driver to install when it is missing', () => {
    expect(loadEngine(() => 42, 'pg', '@rds-iam/knex')).toBe(42);
    const missing = Object.assign(new Error("Cannot find module 'mysql2/promise'"), {
      code: 'MODULE_NOT_FOUND',
    });
    let caught: unknown;
    try {
      loadEngine(
        () => {
          throw missing;
        },
        'mysql2',
        '@rds-iam/knex',
      );
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RdsIamError);
    expect(caught).toMatchObject({ code: 'ERR_INVALID_OPTION', cause: missing });
    expect((caught as Error).message).toMatch(/npm install mysql2$/);
  });

  it('passes on any other failure as it is, including a missing package of a similar name', () => {
    const other = Object.assign(new Error("Cannot find module 'pg-native'"), {
      code: 'MODULE_NOT_FOUND',
    });
    expect(() =>
      loadEngine(
        () => {
          throw other;
        },
        'pg',
        '@rds-iam/knex',
      ),
    ).toThrow(other);
  });
});

describe('refuseForcedPgNative', () => {
  const saved = process.env.NODE_PG_FORCE_NATIVE;
  afterEach(() => {
    if (saved === undefined) delete process.env.NODE_PG_FORCE_NATIVE;
    else process.env.NODE_PG_FORCE_NATIVE = saved;
  });

  it('lets a pure-JavaScript pg be, and refuses NODE_PG_FORCE_NATIVE naming whose clients', () => {
    delete process.env.NODE_PG_FORCE_NATIVE;
    expect(() => refuseForcedPgNative("MikroORM's pg connections")).not.toThrow();
    process.env.NODE_PG_FORCE_NATIVE = '1';
    expect(() => refuseForcedPgNative("MikroORM's pg connections")).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFLICTING_OPTIONS',
        message: expect.stringMatching(
          /^rds-iam: NODE_PG_FORCE_NATIVE is set, so MikroORM's pg connections would use pg-native.*Unset NODE_PG_FORCE_NATIVE/,
        ),
      }),
    );
  });
});
