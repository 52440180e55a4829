// PostgreSQL SQLSTATEs: 28P01 invalid_password (password, md5, scram), 28000
// invalid_authorization_specification (PAM, which is how RDS checks IAM tokens).
const PG_CODES = new Set(['28P01', '28000']);
// MySQL / MariaDB: ER_ACCESS_DENIED_ERROR, "Access denied for user 'u'@'h' (using password: YES)".
const MYSQL_ERRNO = 1045;
const MYSQL_CODE = 'ER_ACCESS_DENIED_ERROR';
// The SQL-standard class "invalid authorization specification", which MySQL and MariaDB put in
// `sqlState` next to 1045 and its variants (1698, 1873).
const SQLSTATE_INVALID_AUTHORIZATION = '28000';
// Prisma's user-facing "Authentication failed against database server".
const PRISMA_AUTH_FAILED = 'P1000';
// What Prisma driver adapters keep of the driver's error: `originalCode` is the SQLSTATE (pg) or the
// errno as text (mariadb).
const PRISMA_ORIGINAL_CODES = new Set(['28P01', '28000', '1045']);

// Wrappers are a few levels deep in practice (pool timeout -> driver error, Prisma -> adapter ->
// driver); the bounds only keep a hostile or cyclic object from costing more than a glance.
const MAX_DEPTH = 8;
const MAX_VISITS = 64;

/**
 * Whether the database server refused the login credentials, the signal to drop the token that was
 * used (`provider.invalidate(token)`) and retry once with a fresh one. Recognises, also when wrapped
 * in a `cause` chain, an `AggregateError`, a TypeORM `driverError` or a Prisma error's
 * `meta.driverAdapterError`:
 *
 * - node-postgres (and other PostgreSQL clients): `code` `28P01` or `28000`
 *   (`PAM authentication failed for user "u"` is how RDS rejects a token);
 * - mysql2 and mariadb: `errno` 1045 / `code` `ER_ACCESS_DENIED_ERROR`, or `sqlState` `28000`;
 * - Prisma: code `P1000`, or a driver adapter error whose `originalCode` is one of the above.
 *
 * Network errors, TLS errors, other SQL errors and non-objects give `false`, and so does a server's
 * refusal of a connection without TLS ({@link isTlsRequiredRefusal}), which no token would change.
 * Decided on codes; the one place a message is read is PostgreSQL's `28000`, which also covers
 * `pg_hba.conf rejects connection ... no encryption`: in another server language that wording is not
 * recognised, and the refusal counts as a rejection (at worst one needless fresh token, as callers
 * retry once).
 *
 * @example
 * ```ts
 * async function connectOnce(provider: TokenProvider): Promise<Connection> {
 *   const token = await provider.getToken();
 *   try {
 *     return await openConnection(token);
 *   } catch (err) {
 *     if (!isAuthRejection(err)) throw err;
 *     provider.invalidate(token);
 *     return await openConnection(await provider.getToken()); // one retry, never a loop
 *   }
 * }
 * ```
 */
export function isAuthRejection(err: unknown): boolean {
  return someWrapped(err, rejectsCredentials);
}

function rejectsCredentials(value: object): boolean {
  if (refusesPlaintext(value)) return false;
  const code = read(value, 'code');
  if (typeof code === 'string' && PG_CODES.has(code)) return true;
  if (code === MYSQL_CODE || read(value, 'errno') === MYSQL_ERRNO) return true;
  if (read(value, 'sqlState') === SQLSTATE_INVALID_AUTHORIZATION) return true;
  if (code === PRISMA_AUTH_FAILED || read(value, 'errorCode') === PRISMA_AUTH_FAILED) return true;
  const originalCode = read(value, 'originalCode');
  if (typeof originalCode === 'string' && PRISMA_ORIGINAL_CODES.has(originalCode)) return true;
  return read(value, 'kind') === 'AuthenticationFailed';
}

// MySQL's ER_SECURE_TRANSPORT_REQUIRED: "Connections using insecure transport are prohibited while
// --require_secure_transport=ON." (SQLSTATE 08004).
const MYSQL_SECURE_TRANSPORT_ERRNO = 3159;
const MYSQL_SECURE_TRANSPORT_CODE = 'ER_SECURE_TRANSPORT_REQUIRED';
// PostgreSQL's pg_hba.conf refusal of a plaintext connection when only `hostssl` lines match, which
// is how RDS admits IAM users: `pg_hba.conf rejects connection for host ..., no encryption`.
const PG_NO_ENCRYPTION = /\bno encryption\b/;

function refusesPlaintext(value: object): boolean {
  const code = read(value, 'code');
  if (
    code === MYSQL_SECURE_TRANSPORT_CODE ||
    read(value, 'errno') === MYSQL_SECURE_TRANSPORT_ERRNO
  ) {
    return true;
  }
  const message = read(value, 'message');
  return code === '28000' && typeof message === 'string' && PG_NO_ENCRYPTION.test(message);
}

/**
 * Whether a driver error is the server refusing a connection made without TLS: MySQL's
 * `ER_SECURE_TRANSPORT_REQUIRED` (3159), or PostgreSQL's `28000` `pg_hba.conf rejects connection
 * ... no encryption`. RDS answers so to an IAM login over plaintext, before any token is asked for,
 * so the fix is the client's TLS setting, not a new token. Looks through the same wrappers as
 * {@link isAuthRejection}.
 *
 * @example
 * ```ts
 * if (isTlsRequiredRefusal(err)) console.error('turn TLS on: remove ssl: false');
 * ```
 */
export function isTlsRequiredRefusal(err: unknown): boolean {
  return someWrapped(err, refusesPlaintext);
}

function someWrapped(err: unknown, test: (value: object) => boolean): boolean {
  const seen = new Set<object>();
  const queue: { value: unknown; depth: number }[] = [{ value: err, depth: 0 }];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const { value, depth } = next;
    if (typeof value !== 'object' || value === null || seen.has(value)) continue;
    if (seen.size >= MAX_VISITS) return false;
    seen.add(value);
    if (test(value)) return true;
    if (depth < MAX_DEPTH) {
      for (const child of wrapped(value)) queue.push({ value: child, depth: depth + 1 });
    }
  }
  return false;
}

/** The errors `value` carries inside it. */
function wrapped(value: object): unknown[] {
  const inner = [read(value, 'cause'), read(value, 'driverError')];
  const meta = read(value, 'meta');
  if (typeof meta === 'object' && meta !== null) inner.push(read(meta, 'driverAdapterError'));
  try {
    const errors = read(value, 'errors');
    if (Array.isArray(errors)) inner.push(...errors.slice(0, MAX_VISITS));
  } catch {
    // A revoked Proxy throws even from Array.isArray.
  }
  return inner;
}

// A getter that throws, or a Proxy, must not turn a classification into a crash.
function read(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}
