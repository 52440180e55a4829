import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { PrismaPg } from '@prisma/adapter-pg';
import { pureJsClient } from '@rds-iam/pg';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { iamPrismaPg } from '../src/pg.js';

const HOST = 'mydb.cluster-abc123xyz.eu-west-1.rds.amazonaws.com';
const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'secret' };

/** The `pg` that @prisma/adapter-pg itself imports (it builds its Pool from this copy). */
function adapterPg(): typeof pg {
  const adapterEntry = createRequire(import.meta.url).resolve('@prisma/adapter-pg');
  return createRequire(adapterEntry)('pg') as typeof pg;
}

/** What PrismaPg will hand to `new pg.Pool()` (a private field; read for the test). */
function configOf(adapter: PrismaPg): pg.PoolConfig {
  return (adapter as unknown as { config: pg.PoolConfig }).config;
}

describe('iamPrismaPg', () => {
  it('returns a PrismaPg built from a pool config: password function, verify-full TLS, pure-JS client', () => {
    const adapter = iamPrismaPg(
      { host: HOST, user: 'app', database: 'app', max: 7, idleTimeoutMillis: 1234, credentials },
      { schema: 'app' },
    );
    expect(adapter).toBeInstanceOf(PrismaPg);
    expect(adapter.provider).toBe('postgres');
    const config = configOf(adapter);
    expect(config).toMatchObject({ host: HOST, port: 5432, user: 'app', database: 'app', max: 7 });
    expect(typeof config.password).toBe('function');
    expect(config.ssl).toMatchObject({ rejectUnauthorized: true, servername: HOST });
    expect(config.Client).toBe(pureJsClient());
    expect(config).not.toHaveProperty('credentials');
    // Not a pg.Pool: a Pool from another copy of pg would fail the adapter's instanceof check.
    expect(config).not.toBeInstanceOf(adapterPg().Pool);
  });

  it("the password function and the Client survive the adapter's own new pg.Pool(config)", () => {
    const config = configOf(iamPrismaPg({ host: HOST, user: 'app', credentials }));
    const pool = new (adapterPg().Pool)(config);
    const options = (pool as unknown as { options: pg.PoolConfig }).options;
    expect(options.password).toBe(config.password);
    expect((pool as unknown as { Client: unknown }).Client).toBe(pureJsClient());
    expect(options.ssl).toBe(config.ssl);
    void pool.end();
  });

  it('refuses a password and reports bad options before any network call', () => {
    expect(() => iamPrismaPg({ host: HOST, user: 'app', password: 'x' } as never)).toThrowError(
      expect.objectContaining({ code: 'ERR_CONFLICTING_OPTIONS' }),
    );
    expect(() => iamPrismaPg({ host: 'https://nope', user: 'app' })).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_HOST' }),
    );
    expect(() => iamPrismaPg({ host: HOST, user: 'app', ssl: false })).toThrowError(
      expect.objectContaining({ code: 'ERR_TLS_REQUIRED' }),
    );
  });

  it('holds no token: inspecting the adapter shows a function, not a password', async () => {
    const adapter = iamPrismaPg({
      host: HOST,
      user: 'app',
      sign: () => ({ token: 'SECRET-TOKEN-TEXT', expiresAt: Date.now() + 900_000 }),
    });
    const password = configOf(adapter).password as () => Promise<string>;
    expect(await password()).toBe('SECRET-TOKEN-TEXT');
    expect(inspect(adapter, { depth: 10 })).not.toContain('SECRET-TOKEN-TEXT');
    expect(JSON.stringify(configOf(adapter))).not.toContain('SECRET-TOKEN-TEXT');
  });
});

describe('optional peers', () => {
  // The built entries, in a fresh process each: which Prisma adapter each one loads when it is
  // imported and when its function runs. One adapter installed must be enough for its entry.
  const loaded = async (script: string): Promise<string[]> => {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `${script}
        const { createRequire } = await import('node:module');
        console.log(JSON.stringify(Object.keys(createRequire(process.cwd() + '/').cache)));`,
      ],
      { cwd: new URL('..', import.meta.url), encoding: 'utf8' },
    );
    const files = JSON.parse(out.trim().split('\n').at(-1) ?? '[]') as string[];
    return [...new Set(files.flatMap((f) => f.match(/@prisma\/adapter-[a-z]+/g) ?? []))].sort();
  };

  it('the root entry loads neither adapter; each adapter entry loads its own only', async () => {
    expect(await loaded(`await import('@rds-iam/prisma');`)).toEqual([]);
    expect(await loaded(`await import('@rds-iam/prisma/pg');`)).toEqual([]);
    expect(
      await loaded(
        `const { iamPrismaPg } = await import('@rds-iam/prisma/pg');
         iamPrismaPg({ host: 'db.abc123.us-east-1.rds.amazonaws.com', user: 'app', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' } });`,
      ),
    ).toEqual(['@prisma/adapter-pg']);
    expect(
      await loaded(
        `const { iamPrismaMariaDb } = await import('@rds-iam/prisma/mariadb');
         iamPrismaMariaDb({ host: 'db.abc123.us-east-1.rds.amazonaws.com', user: 'app', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' } });`,
      ),
    ).toEqual(['@prisma/adapter-mariadb']);
  });
});
