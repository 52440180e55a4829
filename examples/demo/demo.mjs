// `pnpm demo`: a real IAM login to PostgreSQL on this machine, checked the way Amazon RDS checks it.
//
// The RDS IAM emulator (@rds-iam/emulator) stands in for RDS in front of the local PostgreSQL on
// 127.0.0.1:5432, or in front of an embedded one (PGlite) when none answers there. A token provider
// (@rds-iam/core) mints IAM auth tokens with the emulator's demo credentials, node-postgres logs in
// with them over verified TLS, and then the clock moves 20 minutes, past the token's lifetime, to
// show that new connections keep logging in. Nothing here talks to AWS.
//
// RDS_IAM_DEMO_EMBEDDED=1 skips the local server and always uses PGlite.
import { randomBytes } from 'node:crypto';
import { createTokenProvider, parseAuthToken, redact } from '@rds-iam/core';
import { DEMO_CREDENTIALS, startEmulator } from '@rds-iam/emulator';
import pg from 'pg';

const LOCAL = { host: '127.0.0.1', port: 5432 };
const ENDPOINT_HOST = 'demo-db.cluster-c0ffee123456.us-east-1.rds.amazonaws.com';
const REGION = 'us-east-1';
const MINUTE = 60_000;
const CLEANUP_TIMEOUT_MS = 5_000;

const cleanups = [];
let step = 0;
let stepTitle = 'start';

// A closed stdout (`pnpm demo | head`) must not skip the cleanup.
process.stdout.on('error', () => {});
const print = (line = '') => process.stdout.write(`${line}\n`);
const say = (line) => print(`   ${line}`);
function begin(title) {
  step += 1;
  stepTitle = title;
  print();
  print(`${step}. ${title}`);
}
const time = (ms) => `${new Date(ms).toISOString().slice(11, 19)} UTC`;
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The clock the token provider reads; the emulator gets the same offset. */
let clockOffset = 0;
const now = () => Date.now() + clockOffset;

async function main() {
  print(
    'rds-iam demo: log in to PostgreSQL with a 15-minute IAM auth token, checked as RDS checks it',
  );

  // ---- a database ------------------------------------------------------------------------------
  const database = await findDatabase();
  print();
  print(`Database: ${database.description}`);

  // ---- 1. the emulator -------------------------------------------------------------------------
  begin('Started the RDS IAM emulator');
  const emulator = await startEmulator({
    engine: 'postgres',
    upstream: database.upstream,
    endpoint: { host: ENDPOINT_HOST },
    region: REGION,
  });
  cleanups.push(['the emulator', () => emulator.stop()]);
  const tls = { ca: emulator.caPem, servername: emulator.endpoint.host };
  say(`listening on ${emulator.host}:${emulator.port}, standing in for ${emulator.endpoint.host}`);
  say('Like RDS it requires TLS, takes an IAM auth token as the password, and checks its SigV4');
  say(
    'signature, user, endpoint, region and expiry before it lets the login through to the database.',
  );

  // ---- 2. a token ------------------------------------------------------------------------------
  begin('Minted an IAM auth token');
  const counts = { minted: 0, hits: 0 };
  const tokens = createTokenProvider({
    host: emulator.host, // what we dial, like an SSH tunnel or a local port forward
    port: emulator.port,
    signingHost: emulator.endpoint.host, // what the token names: the RDS endpoint
    signingPort: emulator.endpoint.port,
    user: database.user,
    region: REGION,
    credentials: DEMO_CREDENTIALS,
    now,
    onEvent: (event) => {
      if (event.type === 'minted') counts.minted += 1;
      if (event.type === 'hit') counts.hits += 1;
    },
  });
  cleanups.push(['the token provider', async () => tokens.close()]);
  const firstToken = await tokens.getToken();
  const info = parseAuthToken(firstToken);
  const cached = tokens.peek();
  say(
    `for user "${info.user}" at ${info.host}:${info.port} (${info.region}), signed locally with access key ${info.accessKeyId}`,
  );
  say("(the emulator's demo key, not an AWS credential; signing needs no network call)");
  say(
    `issued ${time(info.issuedAt.getTime())}, expires ${time(info.expiresAt.getTime())}: it lives ${info.lifetimeSeconds / 60} minutes`,
  );
  if (cached) {
    say(
      `the cache hands it out until ${time(cached.usableUntil.getTime())}, a safety margin before it dies`,
    );
  }
  say(`the token, with its signature redacted: ${redact(firstToken)}`);

  // ---- 3. a connection ---------------------------------------------------------------------------
  begin('Connected with node-postgres over verified TLS and ran a query');
  const login = {
    host: emulator.host,
    port: emulator.port,
    user: database.user,
    database: database.database,
    ssl: tls,
    connectionTimeoutMillis: 10_000,
  };
  // The password is a function: pg calls it for every new connection, so each one gets a valid token.
  const first = await connect({ ...login, password: () => tokens.getToken() });
  const { rows } = await first.client.query(
    "SELECT current_user AS who, split_part(version(), ' ', 2) AS version",
  );
  await first.close();
  say(`logged in as "${rows[0].who}" (PostgreSQL ${rows[0].version}) over ${first.tlsVersion}`);
  say(
    `token cache: ${plural(counts.minted, 'token')} minted, ${plural(counts.hits, 'cache hit')} (this login reused the token from step 2)`,
  );
  say(`emulator: ${loginCounts(emulator)}`);

  // ---- 4. time passes --------------------------------------------------------------------------
  begin('Moved the clock 20 minutes forward');
  clockOffset += 20 * MINUTE;
  emulator.advanceClock(20 * MINUTE);
  say(`it is now ${time(now())} for the emulator and the token provider alike`);
  say(`the token from step 2 died at ${time(info.expiresAt.getTime())}. A config that froze it in`);
  say('would fail on its next connection. Presenting it again:');
  const stale = await connect({ ...login, password: firstToken }).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (err) => err,
  );
  if (!stale) throw new Error('the emulator accepted a token that expired 5 minutes ago');
  say(`rejected: ${stale.code ?? '?'} ${redact(stale.message)}`);

  // ---- 5. a new connection ---------------------------------------------------------------------
  begin('New connection after 20 minutes: logged in with a newly minted token');
  const mintedBefore = counts.minted;
  const second = await connect({ ...login, password: () => tokens.getToken() });
  const check = await second.client.query('SELECT 1 AS ok');
  await second.close();
  if (check.rows[0]?.ok !== 1 || counts.minted !== mintedBefore + 1) {
    throw new Error('the new connection did not run on a newly minted token');
  }
  const renewed = tokens.peek();
  if (renewed) {
    say(
      `the provider saw the old token was dead and minted a new one: issued ${time(renewed.issuedAt.getTime())}, expires ${time(renewed.expiresAt.getTime())}`,
    );
  }
  say(`token cache: ${plural(counts.minted, 'token')} minted, ${plural(counts.hits, 'cache hit')}`);
  say(`emulator: ${loginCounts(emulator)}`);

  print();
  print(
    'Done. Every new connection authenticated with a token that was valid at that moment, and no',
  );
  print('token text was printed. In an app it is one line where you configure the database:');
  print(
    '  password: () => tokens.getToken()   with   tokens = createTokenProvider({ host, port, user })',
  );
}

/** The emulator's accepted and rejected logins, with reasons. */
function loginCounts(emulator) {
  const c = emulator.counters();
  const reasons = Object.entries(c.rejectedByReason).map(([r, n]) => `${r}: ${n}`);
  return `${plural(c.accepted, 'login')} accepted, ${c.rejected} rejected${reasons.length ? ` (${reasons.join(', ')})` : ''}`;
}

/** A connected pg Client and what TLS it negotiated. */
async function connect(config) {
  const client = new pg.Client(config);
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  const stream = client.connection.stream;
  const tlsVersion = typeof stream.getProtocol === 'function' ? stream.getProtocol() : 'no TLS';
  return { client, tlsVersion, close: () => client.end() };
}

/**
 * The local PostgreSQL when one answers on 127.0.0.1:5432 as `postgres` without a password (a demo
 * user is created there and dropped at the end), else embedded PGlite behind its socket server.
 */
async function findDatabase() {
  if (process.env.RDS_IAM_DEMO_EMBEDDED === '1') {
    return startEmbedded('RDS_IAM_DEMO_EMBEDDED=1');
  }
  try {
    return await useLocalPostgres();
  } catch (err) {
    const why =
      err.code === 'ECONNREFUSED' || err.code === 'ETIMEDOUT' || /timeout/i.test(err.message)
        ? `no PostgreSQL answered on ${LOCAL.host}:${LOCAL.port}`
        : `the PostgreSQL on ${LOCAL.host}:${LOCAL.port} did not let the demo in as postgres without a password (${err.message})`;
    return startEmbedded(why);
  }
}

/** A demo user on the local PostgreSQL, created through `postgres` (trust auth) and dropped at the end. */
async function useLocalPostgres() {
  const admin = new pg.Client({
    ...LOCAL,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 1_500,
  });
  admin.on('error', () => {});
  try {
    await admin.connect();
    const user = `rds_iam_demo_${randomBytes(3).toString('hex')}`;
    // The emulator logs in upstream as the same user, with this password (trust auth ignores it).
    const password = randomBytes(12).toString('hex');
    const { rows } = await admin.query("SELECT split_part(version(), ' ', 2) AS v");
    await admin.query(`CREATE USER ${user} PASSWORD '${password}'`);
    // The seed's GRANT rds_iam: RDS has the role, a local server may not (a concurrent run may
    // create it first). The emulator, strict as RDS, refuses a token for a user without it.
    await admin
      .query('CREATE ROLE rds_iam NOLOGIN')
      .catch((err) => (['42710', '23505'].includes(err.code) ? undefined : Promise.reject(err)));
    await admin.query(`GRANT rds_iam TO ${user}`);
    cleanups.push([
      `the demo user ${user}`,
      async () => {
        const c = new pg.Client({ ...LOCAL, user: 'postgres', database: 'postgres' });
        c.on('error', () => {});
        await c.connect();
        try {
          await c.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1',
            [user],
          );
          await c.query(`DROP ROLE IF EXISTS ${user}`);
        } finally {
          await c.end();
        }
      },
    ]);
    return {
      description: `the PostgreSQL ${rows[0].v} on ${LOCAL.host}:${LOCAL.port}, with a demo user "${user}" dropped at the end`,
      upstream: { ...LOCAL, auth: { kind: 'password', password } },
      user,
      database: 'postgres',
    };
  } finally {
    await admin.end().catch(() => {});
  }
}

async function startEmbedded(why) {
  print();
  print(`Starting an embedded PostgreSQL (PGlite), because ${why} ...`);
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
  ]);
  const db = await PGlite.create();
  cleanups.push(['PGlite', () => db.close()]);
  // The demo's connections are sequential, but allow a few in case a client retries.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 4 });
  await server.start();
  cleanups.push(["PGlite's socket server", () => server.stop()]);
  const conn = server.getServerConn();
  const port = Number(conn.slice(conn.lastIndexOf(':') + 1));
  const { rows } = await db.query("SELECT split_part(version(), ' ', 2) AS v");
  // The seed's GRANT rds_iam, for PGlite's one user: the emulator, strict as RDS, asks for it.
  await db.exec('CREATE ROLE rds_iam NOLOGIN; GRANT rds_iam TO postgres');
  return {
    // PGlite has one user, postgres, and takes any login as it.
    description: `embedded PGlite (PostgreSQL ${rows[0].v} in WebAssembly) on 127.0.0.1:${port}`,
    upstream: { host: '127.0.0.1', port },
    user: 'postgres',
    database: 'postgres',
  };
}

/** Undoes everything, newest first; one run however often it is called. */
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    for (const [what, undo] of cleanups.splice(0).reverse()) {
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), CLEANUP_TIMEOUT_MS);
      });
      try {
        await Promise.race([undo(), timeout]);
      } catch (err) {
        process.stderr.write(
          `warning: could not clean up ${what}: ${redact(String(err?.message ?? err))}\n`,
        );
      } finally {
        clearTimeout(timer);
      }
    }
  })();
  return cleaning;
}

// Ctrl-C still stops the emulator and drops the demo user.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    interrupted = true;
    print();
    print(`Interrupted (${signal}): cleaning up.`);
    cleanup().finally(() => process.exit(130));
  });
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  exitCode = 1;
  if (!interrupted) {
    const message = redact(err instanceof Error ? err.message : String(err));
    const code = err && typeof err === 'object' && 'code' in err ? ` [${err.code}]` : '';
    process.stderr.write(`\nThe demo failed at step ${step} (${stepTitle}): ${message}${code}\n`);
    if (step === 0) {
      process.stderr.write(
        'Check that `pnpm install` completed; RDS_IAM_DEMO_EMBEDDED=1 skips the local PostgreSQL.\n',
      );
    }
  }
} finally {
  await cleanup();
}
process.exit(interrupted ? 130 : exitCode);
