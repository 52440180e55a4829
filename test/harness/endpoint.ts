import { isIP } from 'node:net';
import {
  type AwsCredentials,
  createTokenProvider,
  type TokenProvider,
  type TokenProviderOptions,
} from '@rds-iam/core';
import {
  DEMO_CREDENTIALS,
  type Emulator,
  type EmulatorOptions,
  startEmulator,
} from '@rds-iam/emulator';
import { type TestClock, testClock } from './clock.js';
import { registerCleanup, requireDatabase } from './context.js';
import type { DatabaseTarget, Engine } from './discovery.js';
import { UPSTREAM_PASSWORD } from './objects.js';

/** The RDS-style endpoint name tokens are signed for by default (dialled through 127.0.0.1). */
export const DEFAULT_ENDPOINT_HOST = 'iam-e2e.cluster-c0ffee123456.us-east-1.rds.amazonaws.com';

export interface IamEndpointOptions {
  /**
   * The endpoint tokens must name (the client's `signingHost`). Default
   * {@link DEFAULT_ENDPOINT_HOST}: clients dial 127.0.0.1 and sign for an RDS name, as through a tunnel.
   */
  readonly endpointHost?: string;
  /** The port tokens must name. Default: the emulator's listen port. */
  readonly endpointPort?: number;
  /** Default `us-east-1`. */
  readonly region?: string;
  /** The clock the emulator follows. Default: a new {@link testClock}. */
  readonly clock?: TestClock;
  /** Any other emulator option (requireTls, maxNewConnectionsPerSecond, credentials, ...). */
  readonly emulator?: Partial<
    Omit<EmulatorOptions, 'engine' | 'upstream' | 'endpoint' | 'region' | 'clockOffsetMs'>
  >;
}

/** An emulator in front of the discovered database, and what a client needs to log in through it. */
export interface IamEndpoint {
  readonly engine: Engine;
  readonly emulator: Emulator;
  /** The real database behind it. */
  readonly database: DatabaseTarget;
  /** Where clients dial: 127.0.0.1 and the emulator's port. */
  readonly host: string;
  readonly port: number;
  /** What tokens must be signed for. */
  readonly endpoint: { readonly host: string; readonly port: number };
  readonly region: string;
  /** Credentials the emulator accepts (the demo ones). */
  readonly credentials: AwsCredentials;
  /** PEM of the CA of the emulator's TLS certificate. */
  readonly ca: string;
  /**
   * TLS options that verify the emulator's certificate and name (pg `ssl`, tls.connect). No
   * `servername` when the endpoint is an IP address (SNI can't carry one).
   */
  readonly tls: { readonly ca: string; readonly servername?: string };
  /** Moves the emulator's time; pass `clock.now` to anything else that should follow. */
  readonly clock: TestClock;
  /**
   * A core token provider for `user` at this endpoint: dials 127.0.0.1:port, signs for the endpoint,
   * region and demo credentials, reads the test clock. `extra` overrides or adds options. Closed after
   * the test file.
   */
  tokenProvider(user: string, extra?: Partial<TokenProviderOptions>): TokenProvider;
  /** Stops the emulator (and closes its providers). Also done after the test file. */
  stop(): Promise<void>;
}

/**
 * How the emulator logs in upstream as a harness user: PostgreSQL with the harness users' password
 * ({@link UPSTREAM_PASSWORD}); MySQL / MariaDB without one, as an IAM user has none (a user with a
 * password is one RDS takes no token from, and the emulator refuses it).
 */
export function upstreamAuth(
  engine: Engine,
): { kind: 'trust' } | { kind: 'password'; password: string } {
  return engine === 'postgres'
    ? { kind: 'password', password: UPSTREAM_PASSWORD }
    : { kind: 'trust' };
}

/**
 * Starts an emulator for `engine` in front of the database discovery found, as strict as RDS: it
 * takes tokens only for IAM users ({@link createIamUser}). It logs in upstream as the client's user
 * ({@link upstreamAuth}).
 *
 * @example
 * ```ts
 * const iam = await startIamEndpoint('postgres');
 * const { user, database } = await createIamUser('postgres');
 * const tokens = iam.tokenProvider(user);
 * const client = new pg.Client({ host: iam.host, port: iam.port, user, database,
 *   password: () => tokens.getToken(), ssl: iam.tls });
 * ```
 */
export async function startIamEndpoint(
  engine: Engine,
  options: IamEndpointOptions = {},
): Promise<IamEndpoint> {
  const database = requireDatabase(engine);
  const clock = options.clock ?? testClock();
  const region = options.region ?? 'us-east-1';
  const endpointHost = options.endpointHost ?? DEFAULT_ENDPOINT_HOST;
  const emulator = await startEmulator({
    ...options.emulator,
    engine,
    upstream: { host: database.host, port: database.port, auth: upstreamAuth(engine) },
    host: '127.0.0.1',
    endpoint: { host: endpointHost, port: options.endpointPort ?? 0 },
    region,
    clockOffsetMs: clock.offsetMs,
  });
  const unfollow = clock.follow(emulator);
  const providers = new Set<TokenProvider>();
  const credentials: AwsCredentials = {
    accessKeyId: DEMO_CREDENTIALS.accessKeyId,
    secretAccessKey: DEMO_CREDENTIALS.secretAccessKey,
  };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      for (const p of providers) p.close();
      providers.clear();
      unfollow();
      await emulator.stop();
      unregister();
    })();
    return stopped;
  };
  const unregister = registerCleanup(`${engine} emulator on port ${emulator.port}`, stop);

  return {
    engine,
    emulator,
    database,
    host: emulator.host,
    port: emulator.port,
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials,
    ca: emulator.caPem,
    tls: isIP(emulator.endpoint.host)
      ? { ca: emulator.caPem }
      : { ca: emulator.caPem, servername: emulator.endpoint.host },
    clock,
    tokenProvider(user, extra = {}) {
      const provider = createTokenProvider({
        host: emulator.host,
        port: emulator.port,
        user,
        region: emulator.region,
        signingHost: emulator.endpoint.host,
        signingPort: emulator.endpoint.port,
        credentials,
        now: clock.now,
        ...extra,
      });
      providers.add(provider);
      return provider;
    },
    stop,
  };
}
