import { describe, expect, it } from 'vitest';
import { RdsIamError } from '../src/errors.js';
import { isAuthRejection, isTlsRequiredRefusal } from '../src/rejection.js';

// Error objects shaped as the drivers build them: pg-protocol's parser.js `parseErrorMessage`,
// mysql2's packet.js `asError` (plus `fatal` from the handshake), mariadb's misc/errors.js `SqlError`,
// Prisma's driver-adapter-utils `DriverAdapterError` and client-engine-runtime's user-facing errors.

/** pg-protocol's DatabaseError: an Error whose `name` is the message type, 'error'. */
class DatabaseError extends Error {
  readonly length: number;
  constructor(message: string, length: number, name: string) {
    super(message);
    this.length = length;
    this.name = name;
  }
}

function pgError(code: string, message: string, routine = 'auth_failed'): DatabaseError {
  return Object.assign(new DatabaseError(message, 104, 'error'), {
    severity: 'FATAL',
    code,
    detail: undefined,
    hint: undefined,
    position: undefined,
    internalPosition: undefined,
    internalQuery: undefined,
    where: undefined,
    schema: undefined,
    table: undefined,
    column: undefined,
    dataType: undefined,
    constraint: undefined,
    file: 'auth.c',
    line: '323',
    routine,
  });
}

function mysql2Error(code: string, errno: number, sqlState: string, message: string): Error {
  return Object.assign(new Error(message), {
    code,
    errno,
    sqlState,
    sqlMessage: message,
    fatal: true,
  });
}

/** mariadb's SqlError, message prefixed with the connection header as the driver does. */
class SqlError extends Error {
  readonly sqlMessage: string;
  readonly sql: string | null = null;
  readonly fatal: boolean;
  readonly errno: number;
  readonly sqlState: string;
  readonly code: string;
  constructor(message: string, errno: number, sqlState: string, code: string, cause?: unknown) {
    super(
      `(conn:-1, no: ${errno}, SQLState: ${sqlState}) ${message}`,
      cause === undefined ? undefined : { cause },
    );
    this.name = 'SqlError';
    this.sqlMessage = message;
    this.fatal = errno !== 45028;
    this.errno = errno;
    this.sqlState = sqlState;
    this.code = code;
  }
}

/** @prisma/driver-adapter-utils DriverAdapterError: `cause` is a plain object. */
class DriverAdapterError extends Error {
  override name = 'DriverAdapterError';
  override cause: Record<string, unknown>;
  constructor(payload: Record<string, unknown>) {
    super(typeof payload.message === 'string' ? payload.message : String(payload.kind));
    this.cause = payload;
  }
}

/** Prisma Client's PrismaClientKnownRequestError, as thrown for a driver adapter failure. */
function prismaKnownError(code: string, message: string, adapterError: DriverAdapterError): Error {
  return Object.assign(new Error(message), {
    name: 'PrismaClientKnownRequestError',
    code,
    clientVersion: '7.0.0',
    meta: { modelName: 'User', driverAdapterError: adapterError },
  });
}

function systemError(code: string, errno: number, message: string): Error {
  return Object.assign(new Error(message), {
    errno,
    code,
    syscall: 'connect',
    address: '10.0.1.17',
    port: 5432,
  });
}

const pgInvalidPassword = pgError('28P01', 'password authentication failed for user "app"');
const pgPam = pgError('28000', 'PAM authentication failed for user "app"');
const mysqlDenied = mysql2Error(
  'ER_ACCESS_DENIED_ERROR',
  1045,
  '28000',
  "Access denied for user 'app'@'10.0.0.12' (using password: YES)",
);
const mariadbDenied = new SqlError(
  "Access denied for user 'app'@'10.0.0.12' (using password: YES)",
  1045,
  '28000',
  'ER_ACCESS_DENIED_ERROR',
);
const econnrefused = systemError('ECONNREFUSED', -111, 'connect ECONNREFUSED 10.0.1.17:5432');

const adapterPgAuth = new DriverAdapterError({
  kind: 'AuthenticationFailed',
  user: 'app',
  originalCode: '28P01',
  originalMessage: 'password authentication failed for user "app"',
});
const adapterPgPam = new DriverAdapterError({
  kind: 'DatabaseAccessDenied',
  db: undefined,
  originalCode: '28000',
  originalMessage: 'PAM authentication failed for user "app"',
});
const adapterMariaDbAuth = new DriverAdapterError({
  kind: 'AuthenticationFailed',
  user: 'app',
  originalCode: '1045',
  originalMessage: "Access denied for user 'app'@'10.0.0.12' (using password: YES)",
});

const rejections: [string, unknown][] = [
  ['pg 28P01 invalid_password', pgInvalidPassword],
  ['pg 28000 PAM failure (RDS)', pgPam],
  ['mysql2 1045', mysqlDenied],
  ['mariadb 1045', mariadbDenied],
  [
    'mysql2 with errno only',
    Object.assign(new Error("Access denied for user 'app'"), { errno: 1045 }),
  ],
  [
    'mysql 1698 by its SQLSTATE',
    mysql2Error(
      'ER_ACCESS_DENIED_NO_PASSWORD_ERROR',
      1698,
      '28000',
      "Access denied for user 'app'",
    ),
  ],
  [
    'a mariadb pool timeout caused by a rejection',
    new SqlError(
      'pool failed to retrieve a connection from pool\n    (pool connections: active=0 idle=0 limit=10)',
      45028,
      'HY000',
      'ER_GET_CONNECTION_TIMEOUT',
      mariadbDenied,
    ),
  ],
  ['a cause chain', new Error('connect failed', { cause: new Error('login', { cause: pgPam }) })],
  ['an AggregateError', new AggregateError([econnrefused, mysqlDenied], 'all attempts failed')],
  [
    'an AggregateError inside a cause',
    new Error('pool', { cause: new AggregateError([econnrefused, pgInvalidPassword]) }),
  ],
  [
    'a TypeORM driverError',
    Object.assign(new Error('query failed'), { name: 'QueryFailedError', driverError: pgPam }),
  ],
  ['a Prisma DriverAdapterError (pg)', adapterPgAuth],
  ['a Prisma DriverAdapterError (pg PAM)', adapterPgPam],
  ['a Prisma DriverAdapterError (mariadb)', adapterMariaDbAuth],
  [
    'PrismaClientKnownRequestError P1000',
    prismaKnownError(
      'P1000',
      'Authentication failed against the database server, the provided database credentials for `app` are not valid',
      adapterPgAuth,
    ),
  ],
  [
    'PrismaClientKnownRequestError P1010 from a pg PAM failure',
    prismaKnownError(
      'P1010',
      'User was denied access on the database `(not available)`',
      adapterPgPam,
    ),
  ],
  [
    'PrismaClientInitializationError P1000',
    Object.assign(new Error('Authentication failed'), {
      name: 'PrismaClientInitializationError',
      errorCode: 'P1000',
    }),
  ],
  [
    'an RdsIamError wrapping a rejection',
    new RdsIamError('ERR_AUTH_REJECTED', 'rds-iam: rejected twice', { cause: pgPam }),
  ],
  ['a plain object with the pg code', { code: '28P01', message: 'x' }],
];

const others: [string, unknown][] = [
  ['null', null],
  ['undefined', undefined],
  ['a string', '28P01'],
  ['a string message', 'PAM authentication failed for user "app"'],
  ['a number', 1045],
  ['an empty object', {}],
  ['a plain Error', new Error('boom')],
  ['ECONNREFUSED', econnrefused],
  ['ETIMEDOUT', systemError('ETIMEDOUT', -110, 'connect ETIMEDOUT 10.0.1.17:5432')],
  ['ENOTFOUND', systemError('ENOTFOUND', -3008, 'getaddrinfo ENOTFOUND db.example.com')],
  ['ECONNRESET during the handshake', systemError('ECONNRESET', -104, 'read ECONNRESET')],
  [
    'an AggregateError of network errors (autoSelectFamily)',
    new AggregateError([econnrefused, systemError('ENETUNREACH', -101, 'connect ENETUNREACH')]),
  ],
  [
    'a TLS verification error',
    Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
  ],
  [
    'a TLS hostname mismatch',
    Object.assign(new Error("Hostname/IP does not match certificate's altnames"), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
      reason: 'Host: db. is not in the cert',
    }),
  ],
  ['pg refusing TLS', new Error('The server does not support SSL connections')],
  [
    'pg database does not exist',
    pgError('3D000', 'database "nope" does not exist', 'InitPostgres'),
  ],
  ['pg undefined table', pgError('42P01', 'relation "users" does not exist', 'parserOpenTable')],
  [
    'pg too many connections',
    pgError('53300', 'sorry, too many clients already', 'InitProcessPhase2'),
  ],
  [
    'pg starting up',
    pgError('57P03', 'the database system is starting up', 'ProcessStartupPacket'),
  ],
  [
    'mysql2 database access denied (1044)',
    mysql2Error(
      'ER_DBACCESS_DENIED_ERROR',
      1044,
      '42000',
      "Access denied for user 'app'@'%' to database 'orders'",
    ),
  ],
  [
    'mysql2 too many connections',
    mysql2Error('ER_CON_COUNT_ERROR', 1040, '08004', 'Too many connections'),
  ],
  [
    'mysql2 syntax error',
    mysql2Error('ER_PARSE_ERROR', 1064, '42000', 'You have an error in your SQL syntax'),
  ],
  [
    'mariadb pool timeout without a cause',
    new SqlError(
      'pool timeout: failed to retrieve a connection from pool after 10001ms',
      45028,
      'HY000',
      'ER_GET_CONNECTION_TIMEOUT',
    ),
  ],
  [
    'a Prisma DriverAdapterError for mariadb 1044',
    new DriverAdapterError({ kind: 'DatabaseAccessDenied', db: 'orders', originalCode: '1044' }),
  ],
  [
    'PrismaClientKnownRequestError P1001',
    prismaKnownError(
      'P1001',
      "Can't reach database server at 10.0.1.17:5432",
      new DriverAdapterError({ kind: 'DatabaseNotReachable', host: '10.0.1.17', port: 5432 }),
    ),
  ],
  [
    'an RdsIamError of its own',
    new RdsIamError('ERR_TLS_REQUIRED', 'rds-iam: TLS is required towards db.example.com.'),
  ],
];

describe('isAuthRejection', () => {
  it.each(rejections)('is true for %s', (_, err) => {
    expect(isAuthRejection(err)).toBe(true);
  });

  it.each(others)('is false for %s', (_, err) => {
    expect(isAuthRejection(err)).toBe(false);
  });

  it("treats pg's 28000 as a rejection whatever its message", () => {
    // 28000 also covers "no pg_hba.conf entry" (for example TLS off towards RDS): one needless fresh
    // token at worst, and the caller retries only once.
    const hba = pgError(
      '28000',
      'no pg_hba.conf entry for host "10.0.0.12", user "app", database "orders", SSL off',
      'ClientAuthentication',
    );
    expect(isAuthRejection(hba)).toBe(true);
  });

  it('terminates on cause cycles', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    Object.assign(a, { cause: b });
    expect(isAuthRejection(a)).toBe(false);
    const self = new Error('self');
    Object.assign(self, { cause: self });
    expect(isAuthRejection(self)).toBe(false);
    const aggregate = new AggregateError([], 'loop');
    aggregate.errors.push(aggregate, new Error('x', { cause: aggregate }));
    expect(isAuthRejection(aggregate)).toBe(false);
    aggregate.errors.push(pgPam);
    expect(isAuthRejection(aggregate)).toBe(true);
  });

  it('looks a bounded depth down a cause chain', () => {
    const wrap = (err: unknown, times: number): unknown =>
      times === 0 ? err : wrap(new Error(`level ${times}`, { cause: err }), times - 1);
    expect(isAuthRejection(wrap(pgPam, 8))).toBe(true);
    expect(isAuthRejection(wrap(pgPam, 50))).toBe(false);
  });

  it('stays cheap on a huge AggregateError', () => {
    const errors = Array.from({ length: 10_000 }, (_, i) => new Error(`attempt ${i}`));
    const started = performance.now();
    expect(isAuthRejection(new AggregateError(errors))).toBe(false);
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('survives getters that throw and revoked proxies', () => {
    const hostile = Object.defineProperty(new Error('hostile'), 'code', {
      get() {
        throw new Error('no');
      },
    });
    expect(isAuthRejection(hostile)).toBe(false);
    const { proxy, revoke } = Proxy.revocable(new Error('gone'), {});
    revoke();
    expect(isAuthRejection(proxy)).toBe(false);
    expect(isAuthRejection(new Error('outer', { cause: proxy }))).toBe(false);
  });
});

describe('isTlsRequiredRefusal', () => {
  const noEncryption = pgError(
    '28000',
    'pg_hba.conf rejects connection for host "10.0.0.12", user "app", database "orders", no encryption',
    'ClientAuthentication',
  );
  const insecureTransport = mysql2Error(
    'ER_SECURE_TRANSPORT_REQUIRED',
    3159,
    '08004',
    'Connections using insecure transport are prohibited while --require_secure_transport=ON.',
  );

  it.each([
    ['pg_hba.conf "no encryption" (28000)', noEncryption],
    ['MySQL ER_SECURE_TRANSPORT_REQUIRED (3159)', insecureTransport],
    ['either, wrapped as a cause', new Error('pool failed', { cause: insecureTransport })],
  ])('is true for %s, which is then not a token rejection', (_, err) => {
    expect(isTlsRequiredRefusal(err)).toBe(true);
    // No token would change the answer: nothing to invalidate, nothing to retry.
    expect(isAuthRejection(err)).toBe(false);
  });

  it.each([
    [
      'PAM authentication failed (28000)',
      pgError('28000', 'PAM authentication failed for user "app"'),
    ],
    [
      'access denied (1045)',
      mysql2Error(
        'ER_ACCESS_DENIED_ERROR',
        1045,
        '28000',
        "Access denied for user 'app'@'10.0.0.12'",
      ),
    ],
    ['no pg_hba.conf entry (28000)', pgError('28000', 'no pg_hba.conf entry for host "10.0.0.12"')],
    ['a network error', systemError('ECONNREFUSED', -111, 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['not an object', 'no encryption'],
  ])('is false for %s', (_, err) => {
    expect(isTlsRequiredRefusal(err)).toBe(false);
  });
});
