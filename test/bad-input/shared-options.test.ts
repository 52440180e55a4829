import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MySqlDriver } from '@mikro-orm/mysql';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { RdsIamError, rdsCaCertificates, type SignFunction } from '@rds-iam/core';
import { iamConnection } from '@rds-iam/knex';
import { iamMikroOrmOptions } from '@rds-iam/mikro-orm';
import { mysql2IamConfig } from '@rds-iam/mysql2';
import { pgIamConfig } from '@rds-iam/pg';
import { iamPostgresOptions } from '@rds-iam/postgres';
import { iamDatabaseUrl } from '@rds-iam/prisma';
import { iamPrismaMariaDb } from '@rds-iam/prisma/mariadb';
import { iamPrismaPg } from '@rds-iam/prisma/pg';
import { iamSequelizeOptions } from '@rds-iam/sequelize';
import { iamDataSourceOptions } from '@rds-iam/typeorm';
import { afterAll, describe, expect, it, vi } from 'vitest';

/**
 * Issue 24: options every integration takes the same way, because core applies them once.
 * - An unset password as configuration schemas and environment files spell it (`''`, `null`: convict,
 *   dotenv, `config`), spread into the connection options, is no password; a password that is set
 *   stays refused.
 * - `ssl: { caFile }` is read into `ca`, as `iamDatabaseUrl` already took it; a file that cannot be
 *   read, or that holds no certificate, fails before any network call.
 * No database: the options are built, never used.
 */

const RDS_HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const sign = vi.fn<SignFunction>(() => 'never-used');

/** Builds an integration's options with `extra` spread in where a connection's options go. */
type Build = (extra: Record<string, unknown>) => unknown;

/** knex takes a connection provider; knex calls it for the settings its driver gets. */
const knexSettings = (provider: unknown) => (provider as () => unknown)();

const INTEGRATIONS: Record<string, Build> = {
  'pg: pgIamConfig': (extra) => pgIamConfig({ host: RDS_HOST, user: 'app', sign, ...extra }),
  'mysql2: mysql2IamConfig': (extra) =>
    mysql2IamConfig({ host: RDS_HOST, user: 'app', sign, ...extra }),
  'knex: pg': (extra) =>
    knexSettings(iamConnection({ host: RDS_HOST, user: 'app', sign, ...extra })),
  'knex: mysql2': (extra) =>
    knexSettings(iamConnection({ client: 'mysql2', host: RDS_HOST, user: 'app', sign, ...extra })),
  'typeorm: postgres': (extra) =>
    iamDataSourceOptions({ type: 'postgres', host: RDS_HOST, username: 'app', sign, ...extra }),
  'typeorm: mysql': (extra) =>
    iamDataSourceOptions({ type: 'mysql', host: RDS_HOST, username: 'app', sign, ...extra }),
  'sequelize: postgres': (extra) =>
    iamSequelizeOptions({ dialect: 'postgres', host: RDS_HOST, username: 'app', sign, ...extra }),
  'sequelize: mariadb': (extra) =>
    iamSequelizeOptions({ dialect: 'mariadb', host: RDS_HOST, username: 'app', sign, ...extra }),
  'sequelize: a replication endpoint': (extra) =>
    iamSequelizeOptions({
      dialect: 'mysql',
      host: RDS_HOST,
      username: 'app',
      replication: { write: {}, read: [{ host: RDS_HOST, ...extra }] },
      sign,
    }),
  'mikro-orm: postgres': (extra) =>
    iamMikroOrmOptions({ driver: PostgreSqlDriver, host: RDS_HOST, user: 'app', sign, ...extra }),
  'mikro-orm: a replica': (extra) =>
    iamMikroOrmOptions({
      driver: MySqlDriver,
      host: RDS_HOST,
      user: 'app',
      replicas: [{ host: RDS_HOST, ...extra }],
      sign,
    }),
  'postgres.js': (extra) => iamPostgresOptions({ host: RDS_HOST, user: 'app', sign, ...extra }),
  'prisma: iamPrismaPg': (extra) => iamPrismaPg({ host: RDS_HOST, user: 'app', sign, ...extra }),
  'prisma: iamPrismaMariaDb': (extra) =>
    iamPrismaMariaDb({ host: RDS_HOST, user: 'app', sign, ...extra }),
};

/** Loopback without TLS: the URL is built without a TLS probe, with a token from `sign`. */
const prismaUrl: Build = (extra) =>
  iamDatabaseUrl({
    engine: 'postgres',
    host: '127.0.0.1',
    port: 5432,
    user: 'app',
    region: 'us-east-1',
    ssl: false,
    sign: () => ({ token: 'a-token-from-the-signer', expiresAt: Date.now() + 900_000 }),
    ...extra,
  });

/** Every value under `key` reachable in a built config (own enumerable properties). */
function valuesOf(key: string, value: unknown, seen = new Set<unknown>()): unknown[] {
  if (value === null || typeof value !== 'object' || seen.has(value)) return [];
  seen.add(value);
  const found: unknown[] = [];
  for (const k of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[k];
    if (k === key) found.push(child);
    found.push(...valuesOf(key, child, seen));
  }
  return found;
}

const passwords = (value: unknown) => [...valuesOf('password', value), ...valuesOf('pass', value)];

async function outcome(build: Build, extra: Record<string, unknown>) {
  try {
    return { value: await build(extra) };
  } catch (error) {
    return { error };
  }
}

describe('an empty or null password is no password, in every integration', () => {
  const rows: [string, Build, string][] = [
    ...Object.entries(INTEGRATIONS).map(([n, b]) => [n, b, 'password'] as [string, Build, string]),
    ['postgres.js: pass', INTEGRATIONS['postgres.js'] as Build, 'pass'],
    ['prisma: iamDatabaseUrl', prismaUrl, 'password'],
  ];
  for (const [name, build, key] of rows) {
    for (const absent of ['', null]) {
      it(`${name}: ${key} ${JSON.stringify(absent)} builds as without one`, async () => {
        const [given, without] = await Promise.all([
          outcome(build, { [key]: absent }),
          outcome(build, {}),
        ]);
        expect(given.error).toBeUndefined();
        expect(without.error).toBeUndefined();
        // The driver never sees the empty password: what is left is rds-iam's own hook, if any.
        expect(passwords(given.value).filter((p) => p === '' || p === null)).toEqual([]);
        expect(passwords(given.value).map((p) => typeof p)).toEqual(
          passwords(without.value).map((p) => typeof p),
        );
      });
    }

    it(`${name}: a ${key} that is set is still refused`, async () => {
      for (const set of [' ', 'hunter2', 0]) {
        const { error } = await outcome(build, { [key]: set });
        expect(error).toBeInstanceOf(RdsIamError);
        expect(error).toMatchObject({
          code: 'ERR_CONFLICTING_OPTIONS',
          message: expect.stringContaining(
            `Remove \`${key}\` (an empty string or null is taken as none)`,
          ),
        });
      }
    });
  }
});

describe('ssl: { caFile } is read into ca, in every integration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rds-iam-ca-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // Two real certificates in one file, as a CA bundle holds them.
  const pems = rdsCaCertificates()
    .slice(0, 2)
    .map((pem) => pem.trim());
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, pems.join('\n'));
  const keyFile = join(dir, 'not-a-ca.pem');
  writeFileSync(keyFile, '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n');

  for (const [name, build] of Object.entries(INTEGRATIONS)) {
    it(`${name}: the file's certificates, as ssl: { ca } would give them`, async () => {
      const [fromFile, inline] = await Promise.all([
        outcome(build, { ssl: { caFile } }),
        outcome(build, { ssl: { ca: pems } }),
      ]);
      expect(fromFile.error).toBeUndefined();
      expect(inline.error).toBeUndefined();
      const cas = (value: unknown) =>
        valuesOf('ca', value)
          .filter(Array.isArray)
          .map((list) => list.map((pem) => String(pem).trim()));
      const caFiles = (value: unknown) => valuesOf('caFile', value);
      expect(cas(fromFile.value)).toEqual(cas(inline.value));
      // Where the settings are visible: postgres.js's socket, MikroORM's driver and the mariadb
      // connector's stream keep them inside (the migrations-CLI examples log in with a caFile).
      if (!/^(postgres\.js|mikro-orm|prisma: iamPrismaMariaDb)/.test(name)) {
        expect(cas(fromFile.value)).toContainEqual(pems);
      }
      expect(caFiles(fromFile.value)).toEqual([]);
    });

    it(`${name}: a caFile that is missing, not a CA, or given with ca is refused`, async () => {
      const missing = await outcome(build, { ssl: { caFile: join(dir, 'missing.pem') } });
      expect(missing.error).toMatchObject({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringMatching(
          /`ssl.caFile` '.*missing.pem' could not be read.*Check the path/,
        ),
      });
      const notPem = await outcome(build, { ssl: { caFile: keyFile } });
      expect(notPem.error).toMatchObject({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringMatching(/holds no PEM certificate/),
      });
      const both = await outcome(build, { ssl: { caFile, ca: pems } });
      expect(both.error).toMatchObject({
        code: 'ERR_CONFLICTING_OPTIONS',
        message: expect.stringMatching(/both `ca` and `caFile`\. Pass one/),
      });
    });
  }
});

describe('no case signs anything', () => {
  it('signed nothing', () => {
    expect(sign).not.toHaveBeenCalled();
  });
});
