import { MySqlDriver } from '@mikro-orm/mysql';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { RdsIamError, type SignFunction } from '@rds-iam/core';
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
import { describe, expect, it, vi } from 'vitest';

/**
 * Issue 24: applications build their database config from a schema or the environment (convict,
 * dotenv, `config`), where an unset password is `''` or `null`, and spread it into the connection
 * options. Every integration takes such a password as none; a password that is set stays refused.
 * No database: the options are built, never used.
 */

const RDS_HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const sign = vi.fn<SignFunction>(() => 'never-used');

/** Builds an integration's options with `password` as given (or without it for `undefined`). */
type Build = (password: unknown) => unknown;

const withPassword = (password: unknown): { password?: unknown } =>
  password === undefined ? {} : { password };

const INTEGRATIONS: Record<string, Build> = {
  'pg: pgIamConfig': (p) =>
    pgIamConfig({ host: RDS_HOST, user: 'app', sign, ...withPassword(p) } as never),
  'mysql2: mysql2IamConfig': (p) =>
    mysql2IamConfig({ host: RDS_HOST, user: 'app', sign, ...withPassword(p) } as never),
  // knex takes a connection provider; knex calls it for the settings its driver gets.
  'knex: pg': (p) =>
    (
      iamConnection({
        host: RDS_HOST,
        user: 'app',
        sign,
        ...withPassword(p),
      } as never) as () => unknown
    )(),
  'knex: mysql2': (p) =>
    (
      iamConnection({
        client: 'mysql2',
        host: RDS_HOST,
        user: 'app',
        sign,
        ...withPassword(p),
      } as never) as () => unknown
    )(),
  'typeorm: postgres': (p) =>
    iamDataSourceOptions({
      type: 'postgres',
      host: RDS_HOST,
      username: 'app',
      sign,
      ...withPassword(p),
    } as never),
  'typeorm: mysql': (p) =>
    iamDataSourceOptions({
      type: 'mysql',
      host: RDS_HOST,
      username: 'app',
      sign,
      ...withPassword(p),
    } as never),
  'sequelize: postgres': (p) =>
    iamSequelizeOptions({
      dialect: 'postgres',
      host: RDS_HOST,
      username: 'app',
      sign,
      ...withPassword(p),
    } as never),
  'sequelize: mariadb': (p) =>
    iamSequelizeOptions({
      dialect: 'mariadb',
      host: RDS_HOST,
      username: 'app',
      sign,
      ...withPassword(p),
    } as never),
  'sequelize: a replication endpoint': (p) =>
    iamSequelizeOptions({
      dialect: 'mysql',
      host: RDS_HOST,
      username: 'app',
      replication: { write: {}, read: [{ host: RDS_HOST, ...withPassword(p) }] },
      sign,
    } as never),
  'mikro-orm: postgres': (p) =>
    iamMikroOrmOptions({
      driver: PostgreSqlDriver,
      host: RDS_HOST,
      user: 'app',
      sign,
      ...withPassword(p),
    } as never),
  'mikro-orm: a replica': (p) =>
    iamMikroOrmOptions({
      driver: MySqlDriver,
      host: RDS_HOST,
      user: 'app',
      replicas: [{ host: RDS_HOST, ...withPassword(p) }],
      sign,
    } as never),
  'postgres.js: password': (p) =>
    iamPostgresOptions({ host: RDS_HOST, user: 'app', sign, ...withPassword(p) } as never),
  'postgres.js: pass': (p) =>
    iamPostgresOptions({
      host: RDS_HOST,
      user: 'app',
      sign,
      ...(p === undefined ? {} : { pass: p }),
    } as never),
  'prisma: iamPrismaPg': (p) =>
    iamPrismaPg({ host: RDS_HOST, user: 'app', sign, ...withPassword(p) } as never),
  'prisma: iamPrismaMariaDb': (p) =>
    iamPrismaMariaDb({ host: RDS_HOST, user: 'app', sign, ...withPassword(p) } as never),
  // Loopback without TLS: the URL is built without a TLS probe, with a token from `sign`.
  'prisma: iamDatabaseUrl': (p) =>
    iamDatabaseUrl({
      engine: 'postgres',
      host: '127.0.0.1',
      port: 5432,
      user: 'app',
      region: 'us-east-1',
      ssl: false,
      sign: () => ({ token: 'a-token-from-the-signer', expiresAt: Date.now() + 900_000 }),
      ...withPassword(p),
    } as never),
};

/** Every `password` / `pass` property reachable in a built config, with its value. */
function passwords(value: unknown, seen = new Set<unknown>()): unknown[] {
  if (value === null || typeof value !== 'object' || seen.has(value)) return [];
  seen.add(value);
  const found: unknown[] = [];
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (key === 'password' || key === 'pass') found.push(child);
    found.push(...passwords(child, seen));
  }
  return found;
}

async function outcome(build: Build, password: unknown) {
  try {
    return { value: await build(password) };
  } catch (error) {
    return { error };
  }
}

describe('an empty or null password is no password, in every integration', () => {
  for (const [name, build] of Object.entries(INTEGRATIONS)) {
    for (const absent of ['', null]) {
      it(`${name}: password ${JSON.stringify(absent)} builds as without one`, async () => {
        const [given, without] = await Promise.all([
          outcome(build, absent),
          outcome(build, undefined),
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

    it(`${name}: a password that is set is still refused`, async () => {
      for (const set of [' ', 'hunter2', 0]) {
        const { error } = await outcome(build, set);
        expect(error).toBeInstanceOf(RdsIamError);
        expect(error).toMatchObject({
          code: 'ERR_CONFLICTING_OPTIONS',
          message: expect.stringMatching(
            /Remove `pass(word)?` \(an empty string or null is taken as none\)/,
          ),
        });
      }
    });
  }

  it('signed nothing', () => {
    expect(sign).not.toHaveBeenCalled();
  });
});
