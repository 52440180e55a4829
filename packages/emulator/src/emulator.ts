import net from 'node:net';
import tls from 'node:tls';
import {
  dbUserArn,
  evaluatePolicies,
  normalizeSourceIp,
  parsePolicyDocument,
  principalContext,
  type RequestContext,
} from '@rds-iam/policy';
import { type CertificateAuthorityPem, createCertificateAuthority } from './certificate.js';
import type {
  ConnectionContext,
  LoginClient,
  RejectReason,
  UpstreamTarget,
  VerifyResult,
} from './context.js';
import { type EmulatorIamOptions, emulatorIamOptions } from './iam-options.js';
import { handleMysqlConnection } from './mysql.js';
import { handlePostgresConnection } from './postgres.js';
import { checkUpstream } from './upstream-check.js';
import {
  createVerifier,
  DEMO_CREDENTIALS,
  type EmulatorCredentials,
  type EndpointAddress,
  type Verifier,
} from './verify.js';

/**
 * The wire protocol the emulator speaks.
 * @example
 * ```ts
 * const engine: EmulatorEngine = 'postgres';
 * ```
 */
export type EmulatorEngine = 'postgres' | 'mysql';

/**
 * Where the emulator logs in after a token checks out, as an object.
 * @example
 * ```ts
 * const upstream: UpstreamOptions = {
 *   host: '127.0.0.1', port: 5432, user: 'app', auth: { kind: 'password', password: 'secret' },
 * };
 * ```
 */
export interface UpstreamOptions {
  readonly host: string;
  readonly port: number;
  /** Default `{ kind: 'trust' }`: log in upstream without a password. */
  readonly auth?: UpstreamTarget['auth'];
  /** Log in upstream as this user instead of the client's login user. */
  readonly user?: string;
}

/**
 * Options of {@link startEmulator}.
 * @example
 * ```ts
 * const options: EmulatorOptions = {
 *   engine: 'postgres',
 *   upstream: 'postgres://127.0.0.1:5432',
 *   endpoint: { host: 'mydb.abc123.us-east-1.rds.amazonaws.com', port: 5432 },
 *   maxNewConnectionsPerSecond: 200,
 * };
 * const emulator = await startEmulator(options);
 * ```
 */
export interface EmulatorOptions {
  /** `postgres` (also Aurora PostgreSQL, RDS Proxy for PostgreSQL) or `mysql` (also MariaDB). */
  readonly engine: EmulatorEngine;
  /**
   * The real server behind the emulator: `postgres://[user[:password]@]host:port` /
   * `mysql://[user[:password]@]host:port`, or an object. A password in the URL means password
   * auth upstream, else trust; a user means every login goes upstream as that user.
   */
  readonly upstream: string | UpstreamOptions;
  /** Listen address. Default `127.0.0.1`. */
  readonly host?: string;
  /** Listen port. Default 0: an ephemeral port (read it from the handle). */
  readonly port?: number;
  /**
   * The RDS endpoint tokens must be signed for (what clients pass as `signingHost` /
   * `signingPort`, or the hostname they dial through a tunnel). Default: the listen host and port.
   * A port of 0 means the listen port.
   */
  readonly endpoint?: { readonly host: string; readonly port?: number };
  /** Region of the emulated endpoint. Default `us-east-1`. */
  readonly region?: string;
  /**
   * Accepted access keys. Default `[DEMO_CREDENTIALS]`. A key with `policies` may log in only as the
   * users they allow (see {@link EmulatorCredentials.policies}).
   */
  readonly credentials?: readonly EmulatorCredentials[];
  /** AWS account id of the emulated database, in the dbuser ARN policies are evaluated for. Default {@link DEFAULT_ACCOUNT_ID}. */
  readonly accountId?: string;
  /**
   * Resource id of the emulated database (`db-...`, `cluster-...`, `prx-...`), in the dbuser ARN.
   * Default {@link DEFAULT_RESOURCE_ID}.
   */
  readonly resourceId?: string;
  /**
   * Called once per login that reached a verdict: the user, accepted or the reason. Never given the
   * token. For a log line per login.
   */
  readonly onLogin?: (login: EmulatorLogin) => void;
  /**
   * Called once, soon after start, when the upstream server does not answer a TCP connection
   * (within `handshakeTimeoutMs`, at most 5 s): the emulator runs anyway, and every login fails with
   * `upstream-unreachable` until upstream answers. For a warning line at start-up.
   */
  readonly onWarning?: (message: string) => void;
  /** Refuse logins without TLS (as RDS does for IAM users). Default true. */
  readonly requireTls?: boolean;
  /**
   * Let in users RDS would not take a token from. By default the emulator is as strict as RDS and
   * refuses a valid token for such a user (reason `not-iam-user`): PostgreSQL, a user that is not a
   * member of `rds_iam` upstream (`password authentication failed`: the seed's `GRANT rds_iam TO
   * user` matters); MySQL / MariaDB with a password-less upstream URL, a user the emulator cannot log
   * in as without a password (it has one instead of the IAM plugin, or does not exist: RDS's 1045).
   * `true` relaxes exactly that, for an upstream whose users are not set up as on RDS. Not checked
   * when `upstream` names a user: every login then goes upstream as that one user.
   */
  readonly allowNonIamUsers?: boolean;
  /**
   * @deprecated The emulator requires the grant by default now. `false` is `allowNonIamUsers: true`;
   * `true` changes nothing.
   */
  readonly requireIamGrant?: boolean;
  /** Initial clock offset in ms: the emulator's clock is `Date.now() + offset`. Default 0. */
  readonly clockOffsetMs?: number;
  /** A client must complete its login within this many ms. Default 10 000. */
  readonly handshakeTimeoutMs?: number;
  /** Largest packet a client may send before authentication. Default 65 536. */
  readonly maxHandshakePacketBytes?: number;
  /** New logins per second above which logins are rejected with `rate-limited`. Default: none. */
  readonly maxNewConnectionsPerSecond?: number;
  /** Extra subject alternative names for the TLS certificate (the endpoint host is added anyway). */
  readonly hostnames?: readonly string[];
  /** MySQL: the server version announced in the greeting. */
  readonly serverVersion?: string;
  /**
   * Issue the TLS server certificate from this CA instead of generating a new CA: pass
   * `certificateAuthority` of an earlier run so that clients which trust its `caPem` keep trusting
   * the emulator after a restart. Checked before anything listens: a `TypeError` if a PEM is missing
   * or unreadable, the certificate is not a currently valid CA, or the key does not match it. The
   * key is a test-only secret. Default: a new CA per start.
   * @example
   * ```ts
   * const first = await startEmulator({ engine: 'postgres', upstream, port: 15432 });
   * const ca = first.certificateAuthority;
   * await first.stop();
   * const again = await startEmulator({ engine: 'postgres', upstream, port: 15432, certificateAuthority: ca });
   * // again.caPem === first.caPem
   * ```
   */
  readonly certificateAuthority?: CertificateAuthorityPem;
}

/**
 * The account id the emulator uses by default in dbuser ARNs: the documentation example account.
 * @example
 * ```ts
 * const arn = `arn:aws:rds-db:us-east-1:${DEFAULT_ACCOUNT_ID}:dbuser:${DEFAULT_RESOURCE_ID}/app`;
 * ```
 */
export const DEFAULT_ACCOUNT_ID = '123456789012';

/**
 * The resource id the emulator uses by default in dbuser ARNs, shaped like an instance's
 * `DbiResourceId`.
 * @example
 * ```ts
 * const arn = `arn:aws:rds-db:us-east-1:${DEFAULT_ACCOUNT_ID}:dbuser:${DEFAULT_RESOURCE_ID}/app`;
 * ```
 */
export const DEFAULT_RESOURCE_ID = 'db-EMULATOR0000000000000000';

/**
 * One login's verdict, as `onLogin` reports it: no token text, ever.
 * @example
 * ```ts
 * const onLogin = (l: EmulatorLogin) =>
 *   console.log(`${l.user}: ${l.accepted ? 'accepted' : `${l.reason} (${l.detail})`}`);
 * ```
 */
export type EmulatorLogin =
  | { readonly accepted: true; readonly user: string; readonly accessKeyId: string }
  | {
      readonly accepted: false;
      readonly user: string;
      readonly reason: RejectReason;
      readonly detail: string;
    };

/**
 * Login and connection counts since start (or the last `resetCounters()`).
 * @example
 * ```ts
 * const { accepted, rejectedByReason } = emulator.counters();
 * console.log(accepted, rejectedByReason.expired ?? 0);
 * ```
 */
export interface EmulatorCounters {
  /** Logins whose token was accepted. */
  readonly accepted: number;
  /** Logins refused, for any reason. */
  readonly rejected: number;
  /** Refused logins by {@link RejectReason}. */
  readonly rejectedByReason: Readonly<Partial<Record<RejectReason, number>>>;
  /** TCP connections accepted by the listener. */
  readonly connectionsOpened: number;
  /** Client connections open right now (not reset by `resetCounters()`). */
  readonly connectionsActive: number;
  /**
   * Distinct tokens among accepted logins, told apart by their `X-Amz-Signature`: how many tokens
   * the clients minted and used, counted on the server side whatever the client library. Logins
   * that reuse a cached token add to `accepted` but not here. The emulator keeps one signature
   * (64 characters) per distinct token until `resetCounters()`, so memory grows with the tokens
   * accepted since the last reset (about 100 bytes each); reset between benchmark runs.
   * @example
   * ```ts
   * emulator.resetCounters();
   * await runWorkload();
   * const { accepted, distinctTokens } = emulator.counters();
   * console.log(`${accepted} logins with ${distinctTokens} tokens`);
   * ```
   */
  readonly distinctTokens: number;
}

/**
 * A running emulator.
 * @example
 * ```ts
 * const emulator: Emulator = await startEmulator({ engine: 'mysql', upstream: 'mysql://root@127.0.0.1:3306' });
 * emulator.advanceClock(16 * 60_000); // every token minted before now is expired
 * emulator.rejectNextLogins(1);
 * await emulator.stop();
 * ```
 */
export interface Emulator {
  readonly engine: EmulatorEngine;
  /** The address it listens on. */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** The endpoint tokens must be signed for. */
  readonly endpoint: EndpointAddress;
  readonly region: string;
  /** The account id in the dbuser ARN policies are evaluated for. */
  readonly accountId: string;
  /** The resource id in the dbuser ARN policies are evaluated for. */
  readonly resourceId: string;
  /** The dbuser ARN a login as `user` needs `rds-db:connect` on. */
  dbUserArn(user: string): string;
  /** PEM of the CA that signed the emulator's TLS certificate: what clients trust. */
  readonly caPem: string;
  /**
   * The CA in use, certificate (`certPem`, equal to `caPem`) and private key (`keyPem`, PKCS#8),
   * to pass as the `certificateAuthority` option of a later start so that clients trusting
   * `caPem` keep trusting it. `keyPem` is a test-only secret: anyone holding it can issue
   * certificates those clients accept; never add this CA to a system trust store.
   * @example
   * ```ts
   * const { certPem, keyPem } = emulator.certificateAuthority;
   * writeFileSync('emulator-ca.pem', certPem);
   * writeFileSync('emulator-ca.key', keyPem, { mode: 0o600 });
   * ```
   */
  readonly certificateAuthority: CertificateAuthorityPem;
  /** Closes the listener and destroys every live connection; resolves when all are closed. */
  stop(): Promise<void>;
  /** Login and connection counts. */
  counters(): EmulatorCounters;
  /** Zeroes the login counts, `distinctTokens` (forgetting the signatures) and `connectionsOpened`. */
  resetCounters(): void;
  /** Sets the clock offset (ms): the emulator's clock is `Date.now() + ms`. */
  setClockOffset(ms: number): void;
  /** Moves the clock forward (or back, if negative) by `ms`. */
  advanceClock(ms: number): void;
  /** Rejects the next `n` logins, whatever their token, with reason `injected`. */
  rejectNextLogins(n: number): void;
  /** Sets or (with `undefined`) removes the limit of new logins per second. */
  setRateLimit(perSecond: number | undefined): void;
  /** Accepts tokens signed with these credentials too (replacing an entry with the same key id). */
  addCredentials(credentials: EmulatorCredentials): void;
  /** Stops accepting tokens signed with this access key (keys rotated, a session revoked). */
  removeCredentials(accessKeyId: string): void;
  /** A connection URL without password, for the listen address: `postgres://user@host:port/db`. */
  url(user: string, database?: string): string;
  /**
   * The rds-iam options that log in here (`signingHost`, `signingPort`, `region`, `credentials` of
   * the accepted key `accessKeyId`, default the first one, and `ssl: { ca }`): spread them into any
   * integration's options next to `host: emulator.host, port: emulator.port, user`.
   * @throws {TypeError} when no accepted key has that id.
   * @example
   * ```ts
   * const pool = createPool({ host: emulator.host, port: emulator.port, user: 'app', ...emulator.iamOptions() });
   * ```
   */
  iamOptions(accessKeyId?: string): EmulatorIamOptions;
}

const DEFAULT_PORTS: Record<EmulatorEngine, number> = { postgres: 5432, mysql: 3306 };
const SCHEMES: Record<EmulatorEngine, readonly string[]> = {
  postgres: ['postgres:', 'postgresql:'],
  mysql: ['mysql:', 'mariadb:'],
};

/**
 * Parses the `upstream` option.
 *
 * @example
 * ```ts
 * parseUpstream('postgres', 'postgres://app:secret@127.0.0.1:5432');
 * // { host: '127.0.0.1', port: 5432, user: 'app', auth: { kind: 'password', password: 'secret' } }
 * ```
 */
export function parseUpstream(
  engine: EmulatorEngine,
  upstream: string | UpstreamOptions,
): UpstreamTarget {
  if (typeof upstream !== 'string') {
    if (!upstream.host || !Number.isInteger(upstream.port) || upstream.port <= 0) {
      throw new TypeError('upstream needs a host and a port');
    }
    return {
      host: upstream.host,
      port: upstream.port,
      auth: upstream.auth ?? { kind: 'trust' },
      ...(upstream.user !== undefined ? { user: upstream.user } : {}),
    };
  }
  let url: URL;
  try {
    url = new URL(upstream);
  } catch {
    throw new TypeError(
      `upstream ${JSON.stringify(upstream)} is not a URL like ${engine}://host:port`,
    );
  }
  if (!SCHEMES[engine].includes(url.protocol)) {
    throw new TypeError(
      `upstream scheme ${url.protocol} does not match engine ${engine} (use ${SCHEMES[engine].join(' or ')})`,
    );
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new TypeError('upstream URL has no host');
  const user = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  return {
    host,
    port: url.port ? Number(url.port) : DEFAULT_PORTS[engine],
    auth: password !== undefined ? { kind: 'password', password } : { kind: 'trust' },
    ...(user !== undefined ? { user } : {}),
  };
}

function emptyCounts(): {
  accepted: number;
  rejected: number;
  byReason: Map<RejectReason, number>;
  signatures: Set<string>;
} {
  return { accepted: 0, rejected: 0, byReason: new Map(), signatures: new Set() };
}

/** The `X-Amz-Signature` of a token (which tells tokens apart), or the whole token without one. */
function signatureOf(token: string): string {
  const q = token.indexOf('?');
  const signature = new URLSearchParams(q < 0 ? '' : token.slice(q + 1)).get('X-Amz-Signature');
  return signature ? signature.toLowerCase() : token;
}

/**
 * Starts a local RDS IAM endpoint: a PostgreSQL or MySQL server on loopback that asks for an IAM
 * auth token as the password, verifies it exactly as RDS does (see {@link createVerifier}), then
 * logs in to the real `upstream` server as the same user and relays the session. TLS uses a
 * certificate from a CA generated at start (`caPem`), or from the `certificateAuthority` given.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { Signer } from '@aws-sdk/rds-signer';
 * import { DEMO_CREDENTIALS, startEmulator } from '@rds-iam/emulator';
 *
 * const emulator = await startEmulator({ engine: 'postgres', upstream: 'postgres://127.0.0.1:5432' });
 * const password = await new Signer({
 *   hostname: emulator.endpoint.host, port: emulator.endpoint.port, username: 'app',
 *   region: emulator.region, credentials: DEMO_CREDENTIALS,
 * }).getAuthToken();
 * const client = new pg.Client({
 *   host: emulator.host, port: emulator.port, user: 'app', database: 'test', password,
 *   ssl: { ca: emulator.caPem },
 * });
 * await client.connect();
 * await client.end();
 * await emulator.stop();
 * ```
 */
export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const engine = options.engine;
  if (engine !== 'postgres' && engine !== 'mysql') {
    throw new TypeError(`engine must be 'postgres' or 'mysql', not ${JSON.stringify(engine)}`);
  }
  const upstream = parseUpstream(engine, options.upstream);
  const listenHost = options.host ?? '127.0.0.1';
  const region = options.region ?? 'us-east-1';
  const requireTls = options.requireTls ?? true;
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const maxHandshakePacketBytes = options.maxHandshakePacketBytes ?? 65_536;
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  const resourceId = options.resourceId ?? DEFAULT_RESOURCE_ID;
  if (!/^\d{12}$/.test(accountId)) {
    throw new TypeError(
      `accountId must be a 12-digit AWS account id, not ${JSON.stringify(accountId)}`,
    );
  }
  if (!/^[A-Za-z0-9-]+$/.test(resourceId)) {
    throw new TypeError(
      `resourceId must look like db-XXXX, cluster-XXXX or prx-XXXX, not ${JSON.stringify(resourceId)}`,
    );
  }
  const arnOf = (user: string): string =>
    dbUserArn({ region, account: accountId, resourceId, user });
  let credentials: EmulatorCredentials[] = [...(options.credentials ?? [DEMO_CREDENTIALS])];
  // A malformed policy fails the start, not every login.
  for (const c of credentials) checkPolicies(c);
  let clockOffset = options.clockOffsetMs ?? 0;
  let injectedRejections = 0;
  let rateLimit = options.maxNewConnectionsPerSecond;
  const loginTimes: number[] = [];
  let counts = emptyCounts();
  let connectionsOpened = 0;

  const names = [...(options.hostnames ?? [])];
  if (options.endpoint?.host) names.push(options.endpoint.host);
  if (!['0.0.0.0', '::'].includes(listenHost)) names.push(listenHost);
  const ca = await createCertificateAuthority({
    hostnames: names,
    ...(options.certificateAuthority !== undefined
      ? { certificateAuthority: options.certificateAuthority }
      : {}),
  });
  const certificateAuthority: CertificateAuthorityPem = {
    certPem: ca.caPem,
    keyPem: ca.caKeyPem,
  };
  const secureContext = tls.createSecureContext({ cert: ca.certPem, key: ca.keyPem });

  const clients = new Set<net.Socket>();
  const upstreams = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: listenHost, port: options.port ?? 0 }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  server.on('error', () => {
    // After listen, errors (EMFILE on accept, ...) must not crash the host process.
  });
  const upstreamCheck = new AbortController();
  void checkUpstream(upstream, Math.min(handshakeTimeoutMs, 5_000), upstreamCheck.signal).then(
    (warning) => {
      if (warning === undefined) return;
      try {
        options.onWarning?.(warning);
      } catch {
        // A failing log callback must not take the emulator down.
      }
    },
  );
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const endpoint: EndpointAddress = {
    host: options.endpoint?.host ?? listenHost,
    port: options.endpoint?.port ? options.endpoint.port : port,
  };

  const now = (): number => Date.now() + clockOffset;
  let verifier: Verifier = createVerifier({ region, endpoint, credentials, now });
  // The signature of each accepted verdict, until the front end reports it through onLogin.
  const acceptedSignatures = new WeakMap<VerifyResult, string>();

  // The request context of a login, as IAM builds it: the client, the (offset) clock, TLS, the
  // region, and the signing identity when the key says who it is. Anything else is absent.
  const contextOf = (key: EmulatorCredentials, client: LoginClient | undefined): RequestContext => {
    const t = now();
    return {
      'aws:CurrentTime': new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'aws:EpochTime': String(Math.floor(t / 1000)),
      'aws:RequestedRegion': region,
      ...(client ? { 'aws:SecureTransport': String(client.tls) } : {}),
      ...(client?.address ? { 'aws:SourceIp': normalizeSourceIp(client.address) } : {}),
      ...(key.principal ? principalContext(key.principal.arn, key.principal.tags) : {}),
    };
  };

  // As on RDS, a valid token is not enough: the signing identity's policies must allow the login.
  const authorize = (
    result: VerifyResult & { ok: true },
    client: LoginClient | undefined,
  ): VerifyResult => {
    const key = credentials.findLast((c) => c.accessKeyId === result.accessKeyId);
    if (key?.policies === undefined) return result;
    const decision = evaluatePolicies(key.policies, {
      resource: arnOf(result.user),
      context: contextOf(key, client),
      missing: 'absent',
    });
    if (decision.decision === 'allow') return result;
    const why = decision.nearestMiss?.explanation ?? 'no statement allows it';
    const absent = decision.missingContext.length
      ? `; the login carried no ${decision.missingContext.join(', ')}${key.principal ? '' : ' (give the key a principal: its ARN and tags fill aws:username, aws:PrincipalTag/...)'}`
      : '';
    return {
      ok: false,
      user: result.user,
      reason: 'not-authorized',
      detail: `${decision.decision} for rds-db:connect on ${decision.resource}: ${why}${absent}`,
    };
  };

  const verify = (token: string, user: string, client?: LoginClient): VerifyResult => {
    if (rateLimit !== undefined) {
      const t = performance.now();
      while (loginTimes.length > 0 && t - (loginTimes[0] ?? 0) >= 1000) loginTimes.shift();
      if (loginTimes.length >= rateLimit) {
        return {
          ok: false,
          user,
          reason: 'rate-limited',
          detail: `more than ${rateLimit} new IAM logins in one second`,
        };
      }
      loginTimes.push(t);
    }
    if (injectedRejections > 0) {
      injectedRejections--;
      return { ok: false, user, reason: 'injected', detail: 'rejected by rejectNextLogins()' };
    }
    const verified = verifier(token, user);
    const result = verified.ok ? authorize(verified, client) : verified;
    if (result.ok) acceptedSignatures.set(result, signatureOf(token));
    return result;
  };

  const ctx: ConnectionContext = {
    secureContext,
    requireTls,
    // With an upstream user override the login user does not exist upstream: there is no grant to
    // check, and every login is that one upstream user.
    requireIamGrant:
      options.allowNonIamUsers !== true &&
      options.requireIamGrant !== false &&
      upstream.user === undefined,
    upstream,
    verify,
    onLogin(result) {
      try {
        options.onLogin?.(
          result.ok
            ? { accepted: true, user: result.user, accessKeyId: result.accessKeyId }
            : { accepted: false, user: result.user, reason: result.reason, detail: result.detail },
        );
      } catch {
        // A failing log callback must not break the login it reports.
      }
      if (result.ok) {
        counts.accepted++;
        const signature = acceptedSignatures.get(result);
        if (signature !== undefined) counts.signatures.add(signature);
      } else {
        counts.rejected++;
        counts.byReason.set(result.reason, (counts.byReason.get(result.reason) ?? 0) + 1);
      }
    },
    handshakeTimeoutMs,
    maxHandshakePacketBytes,
    ...(options.serverVersion !== undefined ? { serverVersion: options.serverVersion } : {}),
    trackSocket(socket) {
      upstreams.add(socket);
      socket.once('close', () => upstreams.delete(socket));
    },
  };

  const handle = engine === 'postgres' ? handlePostgresConnection : handleMysqlConnection;
  server.on('connection', (socket) => {
    connectionsOpened++;
    clients.add(socket);
    socket.once('close', () => clients.delete(socket));
    socket.on('error', () => {
      // The front end handles errors; this only keeps one from crashing the process.
    });
    try {
      handle(socket, ctx);
    } catch {
      socket.destroy();
    }
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      upstreamCheck.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const sockets = [...clients, ...upstreams];
      const allClosed = sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.closed) resolve();
            else s.once('close', () => resolve());
          }),
      );
      for (const s of sockets) s.destroy();
      await Promise.all([closed, ...allClosed]);
    })();
    return stopping;
  };

  return {
    engine,
    host: listenHost,
    port,
    endpoint,
    region,
    accountId,
    resourceId,
    dbUserArn: arnOf,
    caPem: ca.caPem,
    certificateAuthority,
    stop,
    counters: () => ({
      accepted: counts.accepted,
      rejected: counts.rejected,
      rejectedByReason: Object.fromEntries(counts.byReason),
      connectionsOpened,
      connectionsActive: clients.size,
      distinctTokens: counts.signatures.size,
    }),
    resetCounters() {
      counts = emptyCounts();
      connectionsOpened = 0;
    },
    setClockOffset(ms) {
      clockOffset = ms;
    },
    advanceClock(ms) {
      clockOffset += ms;
    },
    rejectNextLogins(n) {
      injectedRejections = Math.max(0, Math.floor(n));
    },
    setRateLimit(perSecond) {
      rateLimit = perSecond;
      loginTimes.length = 0;
    },
    addCredentials(c) {
      checkPolicies(c);
      credentials = [...credentials.filter((x) => x.accessKeyId !== c.accessKeyId), c];
      verifier = createVerifier({ region, endpoint, credentials, now });
    },
    removeCredentials(accessKeyId) {
      credentials = credentials.filter((x) => x.accessKeyId !== accessKeyId);
      verifier = createVerifier({ region, endpoint, credentials, now });
    },
    url(user, database) {
      const scheme = engine === 'postgres' ? 'postgres' : 'mysql';
      const h = net.isIPv6(listenHost) ? `[${listenHost}]` : listenHost;
      const db = database === undefined ? '' : `/${encodeURIComponent(database)}`;
      return `${scheme}://${encodeURIComponent(user)}@${h}:${port}${db}`;
    },
    iamOptions: (accessKeyId) =>
      emulatorIamOptions({ endpoint, region, caPem: ca.caPem, credentials }, accessKeyId),
  };
}

/**
 * Throws the policy package's `ERR_POLICY_*` error for a malformed policy or principal of `c`, naming
 * the key.
 */
function checkPolicies(c: EmulatorCredentials): void {
  const named = (what: string, check: () => unknown) => {
    try {
      check();
    } catch (err) {
      if (err instanceof Error) err.message = `${what} of ${c.accessKeyId}: ${err.message}`;
      throw err;
    }
  };
  for (const [i, policy] of (c.policies ?? []).entries()) {
    named(`policies[${i}]`, () => parsePolicyDocument(policy));
  }
  const { principal } = c;
  if (principal) named('principal', () => principalContext(principal.arn, principal.tags));
}
