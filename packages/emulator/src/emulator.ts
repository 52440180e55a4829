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
import type { ConnectionContext, LoginClient, RejectReason, VerifyResult } from './context.js';
import { emulatorIamOptions } from './iam-options.js';
import { handleMysqlConnection } from './mysql.js';
import {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_RESOURCE_ID,
  type Emulator,
  type EmulatorOptions,
} from './options.js';
import { handlePostgresConnection } from './postgres.js';
import { parseUpstream } from './upstream.js';
import { checkUpstream } from './upstream-check.js';
import {
  createVerifier,
  DEMO_CREDENTIALS,
  type EmulatorCredentials,
  type EndpointAddress,
  type Verifier,
} from './verify.js';

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
