import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { MariaDbDriver } from '@mikro-orm/mariadb';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import {
  createTokenProvider,
  parseAuthToken,
  RdsIamError,
  type RdsIamErrorCode,
  type SignFunction,
  sharedTokenProvider,
} from '@rds-iam/core';
import { iamConnection } from '@rds-iam/knex';
import { iamMikroOrmOptions } from '@rds-iam/mikro-orm';
import {
  createConnection as mysql2CreateConnection,
  createPool as mysql2CreatePool,
  mysql2IamConfig,
  mysql2IamDriver,
} from '@rds-iam/mysql2';
import {
  createClient as pgCreateClient,
  createPool as pgCreatePool,
  pgIamConfig,
  pgIamDriver,
} from '@rds-iam/pg';
import { iamPostgresOptions } from '@rds-iam/postgres';
import { iamDatabaseUrl } from '@rds-iam/prisma';
import { iamPrismaMariaDb } from '@rds-iam/prisma/mariadb';
import { iamPrismaPg } from '@rds-iam/prisma/pg';
import { startLocalProxy } from '@rds-iam/proxy';
import { iamSequelizeOptions } from '@rds-iam/sequelize';
import { iamDataSourceOptions } from '@rds-iam/typeorm';
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';

/**
 * Issue 8, "bad input": every wrong configuration fails fast with an RdsIamError that has a stable
 * `code`, a message that says what to do, and no token text anywhere, before any network call.
 * No database or emulator is needed.
 */

const RDS_HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const NOT_RDS_HOST = 'db.internal.example';

/** Static, made-up credentials: signing with them is local, no AWS call. */
const CREDENTIALS = {
  accessKeyId: 'ASIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEBadInputSessionTokenZ9x/Qk+7rT3wLm0pV8eN2sHd==',
};

/** A signer spy for every case: no case may sign anything. */
const sign = vi.fn<SignFunction>(() => 'never-used');

interface BadInputCase {
  name: string;
  /** Throws or rejects. */
  run: () => unknown;
  code: RdsIamErrorCode;
  /** The part of the message that says what to do. */
  fix: RegExp;
}

/** A message says what to do when it has one of these verbs. */
const IMPERATIVE = /\b(set|remove|pass|use|check|unset|create)\b/i;

/** Cases whose message names the problem and the rule but has no imperative fix (see the report). */
const STATES_RULE_ONLY = [
  'core: options null',
  'core: unknown engine',
  'core: credentials missing secretAccessKey',
  'core: onEvent a string',
  'core: sign not a function',
  'core: expiryMarginMs negative',
  'core: refreshAheadMs a string',
  'core: region not a region name',
  'core: profile empty',
  'core: parseAuthToken of plain text',
  'core: parseAuthToken of null',
  'core: parseAuthToken of a token with a corrupted date',
  'core: parseAuthToken of a token with a truncated signature',
  'core: parseAuthToken of a token with X-Amz-Expires 0',
  'core: parseAuthToken of a token signed twice (duplicate signature)',
  'core: parseAuthToken of a token URL-encoded with a corrupted date',
  'pg: ssl a string',
  'pg: unknown sslmode in connectionString',
  'knex: options not an object',
  'typeorm: unknown type',
  'prisma: iamDatabaseUrl with a bad engine',
  'prisma: iamDatabaseUrl with a CA that is not PEM',
];

interface Outcome {
  error: unknown;
}

async function capture(run: () => unknown): Promise<Outcome> {
  try {
    const result = run();
    if (result instanceof Promise) await result;
  } catch (error) {
    return { error };
  }
  return { error: undefined };
}

/** Sets environment variables for the duration of `run` (undefined deletes), then restores them. */
async function withEnv(vars: Record<string, string | undefined>, run: () => Promise<unknown>) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await run();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

let token = '';
/** Every spelling of the token's secrets that must never be thrown: raw, URL-encoded, twice encoded. */
let secrets: string[] = [];
let emptyConfigDir = '';
const results = new Map<string, Outcome>();
let connectSpy: MockInstance<Socket['connect']> | undefined;

/** A token with one query parameter replaced. */
function tamper(param: string, value: string): string {
  return token.replace(new RegExp(`${param}=[^&]*`), `${param}=${value}`);
}

function urlWithTokenPassword(scheme: string): string {
  return `${scheme}://app:${encodeURIComponent(token)}@${RDS_HOST}/app`;
}

const cases: BadInputCase[] = [
  // ---- core: createTokenProvider (validated when created) ----
  {
    name: 'core: options null',
    run: () => createTokenProvider(null as never),
    code: 'ERR_INVALID_OPTION',
    fix: /must be an object with at least `host` and `user`/,
  },
  {
    name: 'core: host missing',
    run: () => createTokenProvider({ port: 5432, user: 'app', sign } as never),
    code: 'ERR_INVALID_HOST',
    fix: /`host` is missing\. Set it to the database endpoint/,
  },
  {
    name: 'core: host as number',
    run: () => createTokenProvider({ host: 5432, port: 5432, user: 'app', sign } as never),
    code: 'ERR_INVALID_HOST',
    fix: /Set it to the database endpoint/,
  },
  {
    name: 'core: host with a scheme',
    run: () => createTokenProvider({ host: `https://${RDS_HOST}`, port: 5432, user: 'app', sign }),
    code: 'ERR_INVALID_HOST',
    fix: /Remove the scheme/,
  },
  {
    name: 'core: host with a port',
    run: () => createTokenProvider({ host: `${RDS_HOST}:5432`, port: 5432, user: 'app', sign }),
    code: 'ERR_INVALID_HOST',
    fix: /Pass the port in `port`/,
  },
  {
    name: 'core: port as object',
    run: () => createTokenProvider({ host: RDS_HOST, port: {} as never, user: 'app', sign }),
    code: 'ERR_INVALID_PORT',
    fix: /got an object\. Use the endpoint's port/,
  },
  {
    name: 'core: port out of range',
    run: () => createTokenProvider({ host: RDS_HOST, port: 70_000, user: 'app', sign }),
    code: 'ERR_INVALID_PORT',
    fix: /Use the endpoint's port/,
  },
  {
    name: 'core: no port and no engine',
    run: () => createTokenProvider({ host: RDS_HOST, user: 'app', sign }),
    code: 'ERR_INVALID_PORT',
    fix: /Set `port` .* or `engine`/,
  },
  {
    name: 'core: unknown engine',
    run: () =>
      createTokenProvider({ host: RDS_HOST, engine: 'oracle' as never, user: 'app', sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /`engine` must be 'postgres' or 'mysql'/,
  },
  {
    name: 'core: user null',
    run: () => createTokenProvider({ host: RDS_HOST, port: 5432, user: null as never, sign }),
    code: 'ERR_INVALID_USER',
    fix: /Set it to the database user/,
  },
  {
    name: 'core: user empty',
    run: () => createTokenProvider({ host: RDS_HOST, port: 5432, user: '  ', sign }),
    code: 'ERR_INVALID_USER',
    fix: /Set it to the database user/,
  },
  {
    name: 'core: credentials missing secretAccessKey',
    run: () =>
      createTokenProvider({
        host: RDS_HOST,
        port: 5432,
        user: 'app',
        credentials: { accessKeyId: CREDENTIALS.accessKeyId } as never,
      }),
    code: 'ERR_INVALID_OPTION',
    fix: /`credentials` must be `\{ accessKeyId, secretAccessKey, sessionToken\? \}` or a credential provider function/,
  },
  // A malformed access key id is refused before signing, naming the option, rather than by the token
  // parser after signing; the value is never quoted (it may be the secret key, pasted in its place).
  ...(
    [
      ['empty', '', /`credentials.accessKeyId` is empty\./],
      ["with '/'", 'wJalrXUtnFEMI/K7MDENG', /`credentials.accessKeyId` contains '\/'\./],
      ["with '+'", 'AKIA+IOSFODNN7EXAMPLE', /`credentials.accessKeyId` contains '\+'\./],
      ["with '='", 'AKIAIOSFODNN7EXAMPLE==', /`credentials.accessKeyId` contains '='\./],
      [
        'non-ASCII',
        'AKIAIOSFÖDNN7EXAMPLE',
        /`credentials.accessKeyId` contains a non-ASCII character\./,
      ],
    ] as const
  ).map(
    ([what, accessKeyId, message]): BadInputCase => ({
      name: `core: credentials.accessKeyId ${what}`,
      run: () =>
        createTokenProvider({
          host: RDS_HOST,
          port: 5432,
          user: 'app',
          sign,
          credentials: { ...CREDENTIALS, accessKeyId },
        }),
      code: 'ERR_INVALID_OPTION',
      fix: new RegExp(
        `${message.source} An AWS access key id is letters and digits only .*check that it is not the secret access key`,
      ),
    }),
  ),
  {
    name: 'core: a credential provider returns an access key id with a space',
    run: () =>
      createTokenProvider({
        host: RDS_HOST,
        port: 5432,
        user: 'app',
        sign,
        credentials: async () => ({ ...CREDENTIALS, accessKeyId: ' ASIAIOSFODNN7EXAMPLE' }),
      }).getToken(),
    code: 'ERR_CREDENTIALS',
    fix: /from the `credentials` provider: Error: the accessKeyId it returned contains a space\. An AWS access key id .*check that/,
  },
  {
    name: 'core: onEvent a string',
    run: () =>
      createTokenProvider({
        host: RDS_HOST,
        port: 5432,
        user: 'app',
        sign,
        onEvent: 'log' as never,
      }),
    code: 'ERR_INVALID_OPTION',
    fix: /`onEvent` must be a function/,
  },
  {
    name: 'core: sign not a function',
    run: () => createTokenProvider({ host: RDS_HOST, port: 5432, user: 'app', sign: {} as never }),
    code: 'ERR_INVALID_OPTION',
    fix: /`sign` must be a function/,
  },
  {
    name: 'core: expiryMarginMs negative',
    run: () =>
      createTokenProvider({ host: RDS_HOST, port: 5432, user: 'app', sign, expiryMarginMs: -1 }),
    code: 'ERR_INVALID_OPTION',
    fix: /`expiryMarginMs` must be a number of milliseconds >= 0/,
  },
  {
    name: 'core: expiryMarginMs longer than a token lives',
    run: () =>
      createTokenProvider({
        host: RDS_HOST,
        port: 5432,
        user: 'app',
        sign,
        expiryMarginMs: 900_000,
      }),
    code: 'ERR_INVALID_OPTION',
    fix: /Use at most 840000/,
  },
  {
    name: 'core: refreshAheadMs a string',
    run: () =>
      createTokenProvider({
        host: RDS_HOST,
        port: 5432,
        user: 'app',
        sign,
        refreshAheadMs: '5m' as never,
      }),
    code: 'ERR_INVALID_OPTION',
    fix: /`refreshAheadMs` must be a number of milliseconds/,
  },
  {
    name: 'core: region not a region name',
    run: () =>
      createTokenProvider({ host: RDS_HOST, port: 5432, user: 'app', sign, region: 'US East' }),
    code: 'ERR_INVALID_OPTION',
    fix: /is not an AWS region name such as 'us-east-1'/,
  },
  {
    name: 'core: profile empty',
    run: () => createTokenProvider({ host: RDS_HOST, port: 5432, user: 'app', sign, profile: '' }),
    code: 'ERR_INVALID_OPTION',
    fix: /`profile` must be a non-empty string/,
  },
  {
    name: 'core: signingHost with a scheme',
    run: () =>
      createTokenProvider({
        host: '127.0.0.1',
        port: 15432,
        user: 'app',
        sign,
        signingHost: `postgres://${RDS_HOST}`,
      }),
    code: 'ERR_INVALID_HOST',
    fix: /`signingHost` must be a bare hostname.*Remove the scheme/,
  },
  {
    name: 'core: signingHost with a port',
    run: () =>
      createTokenProvider({
        host: '127.0.0.1',
        port: 15432,
        user: 'app',
        sign,
        signingHost: `${RDS_HOST}:5432`,
      }),
    code: 'ERR_INVALID_HOST',
    fix: /Pass the port in `signingPort` and nothing but the name in `signingHost`/,
  },
  {
    name: 'core: signingPort zero',
    run: () =>
      createTokenProvider({
        host: '127.0.0.1',
        port: 15432,
        user: 'app',
        sign,
        signingHost: RDS_HOST,
        signingPort: 0,
      }),
    code: 'ERR_INVALID_PORT',
    fix: /`signingPort` must be an integer from 1 to 65535.*Use the endpoint's port/,
  },
  {
    name: 'core: token pasted as host',
    run: () => createTokenProvider({ host: token, port: 5432, user: 'app', sign }),
    code: 'ERR_INVALID_HOST',
    fix: /Pass the port in `port`/,
  },
  {
    name: 'core: sharedTokenProvider without host',
    run: () => sharedTokenProvider({ host: '', port: 5432, user: 'app', sign }),
    code: 'ERR_INVALID_HOST',
    fix: /Set it to the database endpoint/,
  },
  {
    name: 'core: region not found (non-RDS host, empty AWS config)',
    run: () =>
      withEnv(
        {
          AWS_REGION: undefined,
          AWS_DEFAULT_REGION: undefined,
          AWS_PROFILE: undefined,
          AWS_CONFIG_FILE: join(emptyConfigDir, 'config'),
          AWS_SHARED_CREDENTIALS_FILE: join(emptyConfigDir, 'credentials'),
        },
        async () => {
          const provider = createTokenProvider({
            host: NOT_RDS_HOST,
            port: 5432,
            user: 'app',
            credentials: CREDENTIALS,
            sign,
          });
          try {
            await provider.getToken();
          } finally {
            provider.close();
          }
        },
      ),
    code: 'ERR_REGION_NOT_FOUND',
    fix: /Pass `region` \(e\.g\. 'us-east-1'\), or `signingHost` with the RDS endpoint name/,
  },
  // ---- core: parseAuthToken ----
  {
    name: 'core: parseAuthToken of plain text',
    run: () => parseAuthToken('hunter2'),
    code: 'ERR_INVALID_TOKEN',
    fix: /it has no query string .*a token looks like/,
  },
  {
    name: 'core: parseAuthToken of null',
    run: () => parseAuthToken(null as never),
    code: 'ERR_INVALID_TOKEN',
    fix: /expected a string, got null/,
  },
  {
    name: 'core: parseAuthToken of a token with a corrupted date',
    run: () => parseAuthToken(tamper('X-Amz-Date', '20250199T120000Z')),
    code: 'ERR_INVALID_TOKEN',
    fix: /X-Amz-Date is not a valid date and time/,
  },
  {
    name: 'core: parseAuthToken of a token with a truncated signature',
    run: () => parseAuthToken(token.replace(/(X-Amz-Signature=[0-9a-f]{40})[0-9a-f]{24}/, '$1')),
    code: 'ERR_INVALID_TOKEN',
    fix: /X-Amz-Signature is missing or not 64 lower-case hex digits/,
  },
  {
    name: 'core: parseAuthToken of a token with X-Amz-Expires 0',
    run: () => parseAuthToken(tamper('X-Amz-Expires', '0')),
    code: 'ERR_INVALID_TOKEN',
    fix: /X-Amz-Expires is not a whole number of seconds from 1 to 604800/,
  },
  {
    name: 'core: parseAuthToken of a token signed twice (duplicate signature)',
    run: () => parseAuthToken(`${token}&X-Amz-Signature=${'0'.repeat(64)}`),
    code: 'ERR_INVALID_TOKEN',
    fix: /the parameter X-Amz-Signature appears twice/,
  },
  {
    name: 'core: parseAuthToken of a token URL-encoded with a corrupted date',
    run: () => parseAuthToken(encodeURIComponent(tamper('X-Amz-Date', '20251301T000000Z'))),
    code: 'ERR_INVALID_TOKEN',
    fix: /X-Amz-Date is not a valid date and time/,
  },
  // ---- pg ----
  {
    name: 'pg: password next to IAM',
    run: () => pgIamConfig({ host: RDS_HOST, user: 'app', password: 'hunter2', sign } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove `password`/,
  },
  {
    name: 'pg: token as password option',
    run: () => pgIamConfig({ host: RDS_HOST, user: 'app', password: token, sign } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove `password`/,
  },
  {
    name: 'pg: connectionString whose password is a token',
    run: () => pgIamConfig({ connectionString: urlWithTokenPassword('postgres'), sign }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /`connectionString` carries a password.*Remove the password from the URL/,
  },
  {
    name: 'pg: no host anywhere',
    run: () => pgIamConfig({ user: 'app', database: 'app', sign }),
    code: 'ERR_INVALID_HOST',
    fix: /`host` is missing\. Set it/,
  },
  {
    name: 'pg: ssl false towards RDS',
    run: () => pgIamConfig({ host: RDS_HOST, user: 'app', ssl: false, sign }),
    code: 'ERR_TLS_REQUIRED',
    fix: /remove `ssl: false`/,
  },
  {
    name: 'pg: ssl a string',
    run: () => pgIamConfig({ host: RDS_HOST, user: 'app', ssl: 'require' as never, sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /`ssl` must be true, false \(loopback only\) or a tls\.connect options object/,
  },
  {
    name: 'pg: sslmode=disable in connectionString towards RDS',
    run: () =>
      pgIamConfig({
        connectionString: `postgres://app@${RDS_HOST}:5432/app?sslmode=disable`,
        sign,
      }),
    code: 'ERR_TLS_REQUIRED',
    fix: /Remove sslmode=disable/,
  },
  {
    name: 'pg: unknown sslmode in connectionString',
    run: () =>
      pgIamConfig({ connectionString: `postgres://app@${RDS_HOST}/app?sslmode=strict`, sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /unknown sslmode 'strict'/,
  },
  {
    name: 'pg: unsupported connectionString parameter',
    run: () =>
      pgIamConfig({
        connectionString: `postgres://app@${RDS_HOST}/app?target_session_attrs=read-write`,
        sign,
      }),
    code: 'ERR_INVALID_OPTION',
    fix: /pass it as a pool option instead/,
  },
  {
    name: 'pg: connect_timeout in connectionString not whole seconds',
    run: () =>
      pgIamConfig({ connectionString: `postgres://app@${RDS_HOST}/app?connect_timeout=2.5`, sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /Set it in whole seconds, e\.g\. connect_timeout=10/,
  },
  {
    name: 'pg: connectionString with a mysql scheme',
    run: () => pgIamConfig({ connectionString: `mysql://app@${RDS_HOST}/app`, sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /must start with postgres:\/\/ .*Use postgres:\/\/USER@HOST:PORT\/DATABASE/,
  },
  {
    name: 'pg: connectionString not a URL',
    run: () => pgIamConfig({ connectionString: 'host=db user=app', sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /Use postgres:\/\/USER@HOST:PORT\/DATABASE, or pass host, port, user and database/,
  },
  {
    name: 'pg: createPool with port as object',
    run: () => pgCreatePool({ host: RDS_HOST, port: { n: 5432 } as never, user: 'app', sign }),
    code: 'ERR_INVALID_PORT',
    fix: /Use the endpoint's port/,
  },
  {
    name: 'pg: createClient without user',
    run: () => pgCreateClient({ host: RDS_HOST, sign }),
    code: 'ERR_INVALID_USER',
    fix: /`user` is missing\. Set it/,
  },
  {
    name: 'pg: pgIamDriver (for TypeORM-style pools) with a password',
    run: () => pgIamDriver({ host: RDS_HOST, user: 'app', password: 'hunter2', sign } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove `password`/,
  },
  // ---- mysql2 ----
  {
    name: 'mysql2: mysql2IamDriver (for TypeORM-style pools) without a user',
    run: () => mysql2IamDriver({ host: RDS_HOST, sign } as never),
    code: 'ERR_INVALID_USER',
    fix: /database user/,
  },
  {
    name: 'mysql2: password next to IAM',
    run: () => mysql2IamConfig({ host: RDS_HOST, user: 'app', password: 'hunter2', sign } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove `password`/,
  },
  {
    name: 'mysql2: uri whose password is a token',
    run: () => mysql2IamConfig({ uri: urlWithTokenPassword('mysql'), sign }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /`uri` carries a password.*Remove the password from the URL/,
  },
  {
    name: 'mysql2: ssl false towards RDS',
    run: () => mysql2IamConfig({ host: RDS_HOST, user: 'app', ssl: false, sign }),
    code: 'ERR_TLS_REQUIRED',
    fix: /remove `ssl: false`/,
  },
  {
    name: 'mysql2: unsupported uri parameter',
    run: () => mysql2IamConfig({ uri: `mysql://app@${RDS_HOST}/app?ssl=false`, sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /`uri` parameter 'ssl' is not supported with IAM; pass it as an option instead/,
  },
  {
    name: 'mysql2: uri with a postgres scheme',
    run: () => mysql2IamConfig({ uri: `postgres://app@${RDS_HOST}/app`, sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /Use mysql:\/\/USER@HOST:PORT\/DATABASE/,
  },
  {
    name: "mysql2: a callback to createPool()'s promise pool (Kysely's MysqlDialect wants createCallbackPool)",
    run: () =>
      (
        mysql2CreatePool({ host: RDS_HOST, user: 'app', sign }).getConnection as (
          callback: () => void,
        ) => unknown
      )(() => {}),
    code: 'ERR_CALLBACK_NOT_SUPPORTED',
    fix: /use createCallbackPool\(\) from @rds-iam\/mysql2/,
  },
  {
    name: 'mysql2: createPool with host as number',
    run: () => mysql2CreatePool({ host: 3306 as never, user: 'app', sign }),
    code: 'ERR_INVALID_HOST',
    fix: /Set it to the database endpoint/,
  },
  {
    name: 'mysql2: createConnection with user null',
    run: () => mysql2CreateConnection({ host: RDS_HOST, user: null as never, sign }),
    code: 'ERR_INVALID_USER',
    fix: /Set it to the database user/,
  },
  // ---- knex ----
  {
    name: 'knex: unknown client',
    run: () => iamConnection({ client: 'sqlite3', host: RDS_HOST, user: 'app', sign } as never),
    code: 'ERR_INVALID_OPTION',
    fix: /supports client 'pg' \(default\) and 'mysql2'.*Pass the same value as knex's own `client`/,
  },
  {
    name: 'knex: options not an object',
    run: () => iamConnection(`postgres://app@${RDS_HOST}/app` as never),
    code: 'ERR_INVALID_OPTION',
    fix: /iamConnection\(\) takes an options object/,
  },
  {
    name: 'knex: mysql2 with ssl false towards RDS',
    run: () => iamConnection({ client: 'mysql2', host: RDS_HOST, user: 'app', ssl: false, sign }),
    code: 'ERR_TLS_REQUIRED',
    fix: /remove `ssl: false`/,
  },
  {
    name: 'knex: pg connectionString whose password is a token',
    run: () => iamConnection({ connectionString: urlWithTokenPassword('postgresql'), sign }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove the password from the URL/,
  },
  {
    name: 'knex: token pasted as https:// host',
    run: () => iamConnection({ host: `https://${token}`, user: 'app', sign }),
    code: 'ERR_INVALID_HOST',
    fix: /Remove the scheme/,
  },
  // ---- TypeORM ----
  {
    name: 'typeorm: unknown type',
    run: () =>
      iamDataSourceOptions({ type: 'oracle', host: RDS_HOST, username: 'app', sign } as never),
    code: 'ERR_INVALID_OPTION',
    fix: /supports type 'postgres', 'mysql' and 'mariadb', got 'oracle'/,
  },
  {
    name: 'typeorm: password next to IAM',
    run: () =>
      iamDataSourceOptions({
        type: 'postgres',
        host: RDS_HOST,
        username: 'app',
        password: 'hunter2',
        sign,
      } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove `password`/,
  },
  {
    name: 'typeorm: url whose password is a token',
    run: () =>
      iamDataSourceOptions({ type: 'postgres', url: urlWithTokenPassword('postgres'), sign }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /`url` carries a password.*Remove the password from the URL/,
  },
  {
    name: 'typeorm: mysql url for a postgres DataSource',
    run: () => iamDataSourceOptions({ type: 'postgres', url: `mysql://app@${RDS_HOST}/app`, sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /must start with postgres:\/\//,
  },
  {
    name: 'typeorm: mariadb with ssl false towards RDS',
    run: () =>
      iamDataSourceOptions({ type: 'mariadb', host: RDS_HOST, username: 'app', ssl: false, sign }),
    code: 'ERR_TLS_REQUIRED',
    fix: /remove `ssl: false`/,
  },
  {
    name: 'typeorm: replication',
    run: () =>
      iamDataSourceOptions({
        type: 'mysql',
        username: 'app',
        replication: { master: { host: RDS_HOST }, slaves: [] },
        sign,
      } as never),
    code: 'ERR_INVALID_OPTION',
    fix: /create one DataSource per endpoint/,
  },
  {
    name: 'typeorm: postgres without username',
    run: () => iamDataSourceOptions({ type: 'postgres', host: RDS_HOST, database: 'app', sign }),
    code: 'ERR_INVALID_USER',
    fix: /Set `username`/,
  },
  {
    name: 'typeorm: sslmode=disable in url towards RDS',
    run: () =>
      iamDataSourceOptions({
        type: 'postgres',
        url: `postgres://app@${RDS_HOST}/app?sslmode=disable`,
        sign,
      }),
    code: 'ERR_TLS_REQUIRED',
    fix: /remove `ssl: false`/,
  },
  {
    name: 'typeorm: mysql url with a parameter',
    run: () =>
      iamDataSourceOptions({ type: 'mysql', url: `mysql://app@${RDS_HOST}/app?ssl=false`, sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /pass it as a DataSource option instead/,
  },
  // ---- Sequelize ----
  {
    name: 'sequelize: unknown dialect',
    run: () =>
      iamSequelizeOptions({ dialect: 'sqlite', host: RDS_HOST, username: 'app', sign } as never),
    code: 'ERR_INVALID_OPTION',
    fix: /Set `dialect` to one of them/,
  },
  {
    name: 'sequelize: password next to IAM',
    run: () =>
      iamSequelizeOptions({
        dialect: 'postgres',
        host: RDS_HOST,
        username: 'app',
        password: token,
        sign,
      } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove `password`/,
  },
  {
    name: 'sequelize: a replica with a password',
    run: () =>
      iamSequelizeOptions({
        dialect: 'mysql',
        host: RDS_HOST,
        username: 'app',
        replication: { write: {}, read: [{ host: RDS_HOST, password: token }] },
        sign,
      } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /a `replication` endpoint has a `password`.*Remove `password`/,
  },
  {
    name: 'sequelize: replication without read',
    run: () =>
      iamSequelizeOptions({
        dialect: 'postgres',
        host: RDS_HOST,
        username: 'app',
        replication: { write: {} },
        sign,
      } as never),
    code: 'ERR_INVALID_OPTION',
    fix: /Pass it as `\{ read: \[endpoint, \.\.\.\], write: endpoint \}`/,
  },
  {
    name: 'sequelize: pg-native',
    run: () =>
      iamSequelizeOptions({
        dialect: 'postgres',
        host: RDS_HOST,
        username: 'app',
        native: true,
        sign,
      }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove `native`/,
  },
  {
    name: 'sequelize: mariadb packet dumps',
    run: () =>
      iamSequelizeOptions({
        dialect: 'mariadb',
        host: RDS_HOST,
        username: 'app',
        dialectOptions: { debug: true },
        sign,
      }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove them/,
  },
  {
    name: 'sequelize: ssl false towards RDS',
    run: () =>
      iamSequelizeOptions({ dialect: 'mysql', host: RDS_HOST, username: 'app', ssl: false, sign }),
    code: 'ERR_TLS_REQUIRED',
    fix: /remove `ssl: false`/,
  },
  {
    name: 'sequelize: no username',
    run: () => iamSequelizeOptions({ dialect: 'postgres', host: RDS_HOST, sign }),
    code: 'ERR_INVALID_USER',
    fix: /Set `username`/,
  },
  // ---- MikroORM ----
  {
    name: 'mikro-orm: no driver',
    run: () => iamMikroOrmOptions({ host: RDS_HOST, user: 'app', sign } as never),
    code: 'ERR_INVALID_OPTION',
    fix: /Pass `driver`/,
  },
  {
    name: 'mikro-orm: password next to IAM',
    run: () =>
      iamMikroOrmOptions({
        driver: PostgreSqlDriver,
        host: RDS_HOST,
        user: 'app',
        password: token,
        sign,
      } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove `password`/,
  },
  {
    name: 'mikro-orm: clientUrl',
    run: () =>
      iamMikroOrmOptions({
        driver: PostgreSqlDriver,
        clientUrl: `postgresql://app@${RDS_HOST}/app`,
        sign,
      } as never),
    code: 'ERR_INVALID_OPTION',
    fix: /pass `host`, `port`, `user` and `dbName`/,
  },
  {
    name: 'mikro-orm: replicas not an array',
    run: () =>
      iamMikroOrmOptions({
        driver: MariaDbDriver,
        host: RDS_HOST,
        user: 'app',
        replicas: { host: RDS_HOST },
        sign,
      } as never),
    code: 'ERR_INVALID_OPTION',
    fix: /Pass it as an array/,
  },
  {
    name: 'mikro-orm: mariadb with ssl false towards RDS',
    run: () =>
      iamMikroOrmOptions({ driver: MariaDbDriver, host: RDS_HOST, user: 'app', ssl: false, sign }),
    code: 'ERR_TLS_REQUIRED',
    fix: /remove `ssl: false`/,
  },
  {
    name: 'mikro-orm: no user',
    run: () => iamMikroOrmOptions({ driver: PostgreSqlDriver, host: RDS_HOST, sign }),
    code: 'ERR_INVALID_USER',
    fix: /Set `user`/,
  },
  {
    // MikroORM 7 takes a Kysely dialect (or instance, or a function) in `driverOptions` as its client.
    name: 'mikro-orm: driverOptions a Kysely dialect of its own',
    run: () =>
      iamMikroOrmOptions({
        driver: PostgreSqlDriver,
        host: RDS_HOST,
        user: 'app',
        driverOptions: new (class PostgresDialect {
          createDriver() {
            return {};
          }
        })(),
        sign,
      }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Pass pool settings there as a plain object/,
  },
  {
    name: 'mikro-orm: a replica with driverOptions a function',
    run: () =>
      iamMikroOrmOptions({
        driver: MariaDbDriver,
        host: RDS_HOST,
        user: 'app',
        replicas: [{ host: RDS_HOST, driverOptions: () => ({}) } as never],
        sign,
      }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /a replica’s `driverOptions` is a client of its own.*Pass pool settings/,
  },
  {
    name: 'mikro-orm: driverOptions with ssl and a password',
    run: () =>
      iamMikroOrmOptions({
        driver: MariaDbDriver,
        host: RDS_HOST,
        user: 'app',
        driverOptions: { ssl: { rejectUnauthorized: false }, password: token },
        sign,
      }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /sets `password`, `ssl`, which rds-iam sets for every connection.*remove it from `driverOptions`/,
  },
  // ---- Prisma ----
  {
    name: 'prisma: iamDatabaseUrl with a bad engine',
    run: () => iamDatabaseUrl({ engine: 'sqlserver' as never, host: RDS_HOST, user: 'app', sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /`engine` must be 'postgres' or 'mysql' for iamDatabaseUrl/,
  },
  {
    name: 'prisma: iamDatabaseUrl with password',
    run: () =>
      iamDatabaseUrl({
        engine: 'postgres',
        host: RDS_HOST,
        user: 'app',
        password: 'x',
        sign,
      } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove `password`/,
  },
  {
    name: 'prisma: iamDatabaseUrl with sslmode in params',
    run: () =>
      iamDatabaseUrl({
        engine: 'postgres',
        host: RDS_HOST,
        user: 'app',
        params: { sslmode: 'disable' },
        sign,
      }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /URL parameter 'sslmode' is set by iamDatabaseUrl.*Remove it from `params`/,
  },
  {
    name: 'prisma: iamDatabaseUrl with a token as password param',
    run: () =>
      iamDatabaseUrl({
        engine: 'mysql',
        host: RDS_HOST,
        user: 'app',
        params: { password: token },
        sign,
      }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove it from `params`/,
  },
  {
    name: 'prisma: iamDatabaseUrl with ssl false towards RDS',
    run: () =>
      iamDatabaseUrl({ engine: 'postgres', host: RDS_HOST, user: 'app', ssl: false, sign }),
    code: 'ERR_TLS_REQUIRED',
    fix: /remove `ssl: false`/,
  },
  {
    name: 'prisma: iamDatabaseUrl with a CA that is not PEM',
    run: () =>
      iamDatabaseUrl({
        engine: 'postgres',
        host: RDS_HOST,
        user: 'app',
        ssl: { ca: 'not a cert' },
        sign,
      }),
    code: 'ERR_INVALID_OPTION',
    fix: /`ssl\.ca` holds no PEM certificate/,
  },
  {
    name: 'prisma: iamPrismaPg connectionString whose password is a token',
    run: () => iamPrismaPg({ connectionString: urlWithTokenPassword('postgres'), sign }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove the password from the URL/,
  },
  {
    name: 'prisma: iamPrismaMariaDb uri whose password is a token',
    run: () => iamPrismaMariaDb({ uri: urlWithTokenPassword('mariadb'), sign }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove the password from the URL/,
  },
  {
    name: 'prisma: iamPrismaMariaDb debug on',
    run: () => iamPrismaMariaDb({ host: RDS_HOST, user: 'app', debug: true, sign }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove them; use `logger/,
  },
  {
    name: 'prisma: iamPrismaMariaDb ssl false towards RDS',
    run: () => iamPrismaMariaDb({ host: RDS_HOST, user: 'app', ssl: false, sign }),
    code: 'ERR_TLS_REQUIRED',
    fix: /remove `ssl: false`/,
  },
  // ---- postgres.js ----
  {
    name: 'postgres.js: options null',
    run: () => iamPostgresOptions(null as never),
    code: 'ERR_INVALID_OPTION',
    fix: /pass `\{ host, user, database, ... \}`/,
  },
  {
    name: 'postgres.js: password next to IAM',
    run: () => iamPostgresOptions({ host: RDS_HOST, user: 'app', password: 'x', sign } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /fresh token for every connection. Remove `password`/,
  },
  {
    name: 'postgres.js: pass function next to IAM',
    run: () =>
      iamPostgresOptions({ host: RDS_HOST, user: 'app', pass: () => token, sign } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /Remove `pass`/,
  },
  {
    name: 'postgres.js: a socket of its own',
    run: () =>
      iamPostgresOptions({ host: RDS_HOST, user: 'app', socket: () => null, sign } as never),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /rds-iam opens the connection itself .* Remove it/,
  },
  {
    name: 'postgres.js: hostname instead of host',
    run: () => iamPostgresOptions({ hostname: RDS_HOST, user: 'app', sign } as never),
    code: 'ERR_INVALID_OPTION',
    fix: /pass the endpoint as `host`/,
  },
  {
    name: 'postgres.js: a Unix socket path',
    run: () => iamPostgresOptions({ host: RDS_HOST, user: 'app', path: '/tmp', sign } as never),
    code: 'ERR_INVALID_OPTION',
    fix: /use `host`/,
  },
  {
    name: 'postgres.js: ssl false towards RDS',
    run: () => iamPostgresOptions({ host: RDS_HOST, user: 'app', ssl: false, sign }),
    code: 'ERR_TLS_REQUIRED',
    fix: /remove `ssl: false`/,
  },
  {
    name: 'postgres.js: no user',
    run: () => iamPostgresOptions({ host: RDS_HOST, user: '', sign }),
    code: 'ERR_INVALID_USER',
    fix: /Set it to the database user/,
  },
  // ---- the local IAM proxy: refused before anything listens ----
  {
    name: 'proxy: a listen address that is not loopback',
    run: () =>
      startLocalProxy({
        engine: 'postgres',
        host: RDS_HOST,
        user: 'app',
        listen: { host: '0.0.0.0', port: 6543 },
        sign,
      }),
    code: 'ERR_INVALID_OPTION',
    fix: /Listen on loopback or a Unix socket, or pass `allowNonLoopback: true`/,
  },
  {
    name: 'proxy: not loopback, allowed, without a local password',
    run: () =>
      startLocalProxy({
        engine: 'mysql',
        host: RDS_HOST,
        user: 'app',
        listen: { host: '0.0.0.0', port: 3307 },
        allowNonLoopback: true,
        sign,
      }),
    code: 'ERR_INVALID_OPTION',
    fix: /pass a `localPassword`/,
  },
  {
    name: 'proxy: an empty local password',
    run: () =>
      startLocalProxy({ engine: 'postgres', host: RDS_HOST, user: 'app', localPassword: '', sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /set `localPassword` to a non-empty string/,
  },
  {
    name: 'proxy: a relative socket path',
    run: () =>
      startLocalProxy({
        engine: 'postgres',
        host: RDS_HOST,
        user: 'app',
        listen: { path: 'sock' },
        sign,
      }),
    code: 'ERR_INVALID_OPTION',
    fix: /set `listen.path` to an absolute path/,
  },
  {
    name: 'proxy: an unknown engine',
    run: () => startLocalProxy({ engine: 'oracle' as never, host: RDS_HOST, user: 'app', sign }),
    code: 'ERR_INVALID_OPTION',
    fix: /use `engine: 'postgres'`/,
  },
  {
    name: 'proxy: ssl false towards RDS',
    run: () => startLocalProxy({ engine: 'mysql', host: RDS_HOST, user: 'app', ssl: false, sign }),
    code: 'ERR_TLS_REQUIRED',
    fix: /remove `ssl: false`/,
  },
  {
    name: 'postgres.js: user and username disagree',
    run: () => iamPostgresOptions({ host: RDS_HOST, user: 'app', username: 'admin', sign }),
    code: 'ERR_CONFLICTING_OPTIONS',
    fix: /name different database users\. Pass one of them/,
  },
];

beforeAll(async () => {
  // Mint one real token (SigV4 with static temporary credentials, computed locally) to hide in inputs.
  const minter = createTokenProvider({
    host: RDS_HOST,
    port: 5432,
    user: 'app',
    credentials: CREDENTIALS,
    now: () => Date.UTC(2025, 0, 15, 12, 0, 0),
  });
  token = await minter.getToken();
  minter.close();
  const signature = /X-Amz-Signature=([0-9a-f]{64})/.exec(token)?.[1];
  const sessionToken = /X-Amz-Security-Token=([^&]+)/.exec(token)?.[1];
  if (!signature || !sessionToken)
    throw new Error('the minted token has no signature or session token');
  const raw = [signature, decodeURIComponent(sessionToken), CREDENTIALS.secretAccessKey];
  const spellings = raw.flatMap((s) => [
    s,
    encodeURIComponent(s),
    encodeURIComponent(encodeURIComponent(s)),
  ]);
  // Also a distinctive prefix of each, so a partial leak counts too.
  secrets = [...new Set([...spellings, ...raw.map((s) => s.slice(0, 20))])];

  emptyConfigDir = mkdtempSync(join(tmpdir(), 'rds-iam-bad-input-'));
  writeFileSync(join(emptyConfigDir, 'config'), '');
  writeFileSync(join(emptyConfigDir, 'credentials'), '');

  sign.mockClear();
  connectSpy = vi.spyOn(Socket.prototype, 'connect');
  for (const c of cases) results.set(c.name, await capture(c.run));
});

afterAll(() => {
  connectSpy?.mockRestore();
  if (emptyConfigDir) rmSync(emptyConfigDir, { recursive: true, force: true });
});

describe('bad input: an RdsIamError with a stable code, a fix, and no token, before any network call', () => {
  it('has at least 30 distinct cases', () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { error } = results.get(c.name) as Outcome;
    expect(error, 'expected it to throw or reject').toBeInstanceOf(RdsIamError);
    const err = error as RdsIamError;
    expect(err.name).toBe('RdsIamError');
    expect(err.code).toBe(c.code);
    expect(err.message).toMatch(/^rds-iam: /);
    expect(err.message).toMatch(c.fix);
    const surfaces = [err.message, String(err.stack), inspect(err, { depth: 5 }), String(err)];
    for (const surface of surfaces) {
      for (const secret of secrets) expect(surface).not.toContain(secret);
    }
  });

  it('says what to do in an imperative, except for the messages that only state the rule', () => {
    const ruleOnly = cases
      .filter((c) => {
        const { error } = results.get(c.name) as Outcome;
        return !IMPERATIVE.test((error as Error).message);
      })
      .map((c) => c.name);
    // Known gaps, reported in issue 8: these say what is wrong but not what to type instead.
    expect(ruleOnly).toEqual(STATES_RULE_ONLY);
  });

  it('the leak scan sees a token that does leak (control)', () => {
    const leaked = new Error(`login failed with ${encodeURIComponent(token)}`);
    const text = inspect(leaked, { depth: 5 });
    expect(secrets.some((s) => text.includes(s))).toBe(true);
  });

  it('signed nothing and opened no socket', () => {
    expect(sign).not.toHaveBeenCalled();
    expect(connectSpy).not.toHaveBeenCalled();
  });

  it('covers these codes', () => {
    expect([...new Set(cases.map((c) => c.code))].sort()).toEqual([
      'ERR_CALLBACK_NOT_SUPPORTED',
      'ERR_CONFLICTING_OPTIONS',
      'ERR_CREDENTIALS',
      'ERR_INVALID_HOST',
      'ERR_INVALID_OPTION',
      'ERR_INVALID_PORT',
      'ERR_INVALID_TOKEN',
      'ERR_INVALID_USER',
      'ERR_REGION_NOT_FOUND',
      'ERR_TLS_REQUIRED',
    ]);
  });

  it('messages', () => {
    const messages = Object.fromEntries(
      cases.map((c) => {
        const { error } = results.get(c.name) as Outcome;
        const e = error as { code?: unknown; message?: unknown } | undefined;
        return [c.name, `${String(e?.code)}: ${String(e?.message)}`];
      }),
    );
    // Nothing run-specific may reach the snapshot.
    expect(JSON.stringify(messages)).not.toContain(emptyConfigDir);
    expect(messages).toMatchSnapshot();
  });
});

// ---- the CLI, run as a child process: usage errors exit 2 with one line on stderr ----

const CLI = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));

interface CliCase {
  name: string;
  args: string[];
  /** stdin, for `decode -`. */
  input?: () => string;
  fix: RegExp;
}

/** The dbuser ARN a `policy check` case names. */
const POLICY_TARGET = [
  ...['--region', 'us-east-1', '--account', '123456789012'],
  ...['--resource-id', 'db-ABC', '--user', 'app'],
];
const ALLOW_CONNECT = { Effect: 'Allow', Action: 'rds-db:connect', Resource: '*' };

const cliCases: CliCase[] = [
  { name: 'cli: unknown command', args: ['bogus'], fix: /unknown command 'bogus' \(commands: / },
  { name: 'cli: unknown option', args: ['token', '--nope'], fix: /unknown option '--nope'/ },
  { name: 'cli: token without --host', args: ['token'], fix: /--host is required/ },
  {
    name: 'cli: token without --user',
    args: ['token', '--host', RDS_HOST, '--port', '5432'],
    fix: /--user is required/,
  },
  {
    name: 'cli: token with a port that is not a number',
    args: ['token', '--host', RDS_HOST, '--user', 'app', '--port', 'abc'],
    fix: /--port must be an integer from 1 to 65535/,
  },
  {
    name: 'cli: token with a URL as host',
    args: ['token', '--host', `https://${RDS_HOST}`, '--user', 'app', '--port', '5432'],
    fix: /remove the scheme/,
  },
  {
    name: 'cli: url with an unknown engine',
    args: ['url', '--host', RDS_HOST, '--user', 'app', '--engine', 'oracle'],
    fix: /--engine must be postgres or mysql/,
  },
  {
    name: 'cli: policy check with a --source-ip that is not an address',
    args: ['policy', 'check', '--policy-file', '-', ...POLICY_TARGET, '--source-ip', 'office'],
    input: () => JSON.stringify({ Version: '2012-10-17', Statement: [ALLOW_CONNECT] }),
    fix: /aws:SourceIp "office" is not an IP address/,
  },
  {
    name: 'cli: policy check of a document IAM refuses (a misspelled Condition)',
    args: ['policy', 'check', '--policy-file', '-', ...POLICY_TARGET],
    input: () =>
      JSON.stringify({ Version: '2012-10-17', Statement: [{ ...ALLOW_CONNECT, Condtion: {} }] }),
    fix: /unknown element "Condtion" \(did you mean "Condition"\?\)/,
  },
  {
    name: 'cli: doctor with a --time that is not a date',
    args: ['doctor', '--host', RDS_HOST, '--user', 'app', '--port', '5432', '--time', 'soon'],
    fix: /aws:CurrentTime "soon" is not a date/,
  },
  {
    name: 'cli: doctor with a --target that is not a URL',
    args: ['doctor', '--target', `${RDS_HOST} 5432`],
    fix: /not a URL like postgres:\/\/user@host\[:port\]\/db/,
  },
  {
    name: 'cli: doctor --target with an engine the scheme does not name',
    args: ['doctor', '--target', `oracle://app@${RDS_HOST}/db`],
    fix: /the scheme names the engine \(postgres or mysql\)/,
  },
  {
    name: 'cli: proxy --target with an engine the scheme does not name',
    args: ['proxy', '--target', `oracle://app@${RDS_HOST}/db`],
    fix: /the scheme names the engine \(postgres or mysql\)/,
  },
  {
    name: 'cli: doctor with --target and a --port for the flag form',
    args: ['doctor', '--target', `mysql://app@${RDS_HOST}/db`, '--port', '3307'],
    fix: /--port describes the --host target: with --target, put it in the URL/,
  },
  {
    name: 'cli: doctor with --timeout and --connect-timeout',
    args: [
      ...['doctor', '--target', `mysql://app@${RDS_HOST}/db`],
      ...['--timeout', '1000', '--connect-timeout', '2000'],
    ],
    fix: /--timeout is the old name of --connect-timeout: give one of them/,
  },
  {
    name: 'cli: decode of a token with a corrupted date (stdin)',
    args: ['decode', '-'],
    input: () => tamper('X-Amz-Date', '20250199T120000Z'),
    fix: /X-Amz-Date is not a valid date and time/,
  },
  {
    name: 'cli: proxy listening beyond loopback without a local password',
    args: [
      'proxy',
      '--engine',
      'postgres',
      '--host',
      RDS_HOST,
      '--user',
      'app',
      '--listen',
      '0.0.0.0:6543',
      '--allow-non-loopback',
    ],
    fix: /pass a `localPassword` \(--local-password-env\)/,
  },
  {
    name: 'cli: proxy with --target and --host',
    args: [
      'proxy',
      '--host',
      RDS_HOST,
      '--user',
      'app',
      '--target',
      `postgres://app@${RDS_HOST}/db`,
    ],
    fix: /give --target, or --host and --user, not both/,
  },
];

describe('bad input: the rds-iam CLI', () => {
  const lines: Record<string, string> = {};

  it.each(cliCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    for (const k of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', 'FORCE_COLOR'])
      delete env[k];
    env.AWS_CONFIG_FILE = join(emptyConfigDir, 'config');
    env.AWS_SHARED_CREDENTIALS_FILE = join(emptyConfigDir, 'credentials');
    const run = spawnSync(process.execPath, [CLI, ...c.args], {
      env,
      input: c.input?.() ?? '',
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status, run.stderr).toBe(2);
    expect(run.stdout).toBe('');
    const stderr = run.stderr.replace(/\n$/, '');
    expect(stderr, 'one line').not.toContain('\n');
    expect(stderr).toMatch(/^rds-iam/);
    expect(stderr).toMatch(c.fix);
    for (const secret of secrets) expect(run.stderr).not.toContain(secret);
    lines[c.name] = stderr;
  });

  it('messages', () => {
    expect(Object.keys(lines)).toHaveLength(cliCases.length);
    expect(lines).toMatchSnapshot();
  });
});
