import type { EmulatorCredentials, EndpointAddress } from './verify.js';

/**
 * What an rds-iam integration needs, next to `host`, `port` and `user`, to log in through an
 * emulator: the endpoint name and port tokens are signed for (as through a tunnel), its region, keys
 * it accepts, and the CA of its TLS certificate. Spread it into any integration's options.
 * @example
 * ```ts
 * const options: EmulatorIamOptions = emulator.iamOptions();
 * const pool = createPool({ host: emulator.host, port: emulator.port, user: 'app', ...options });
 * ```
 */
export interface EmulatorIamOptions {
  readonly signingHost: string;
  readonly signingPort: number;
  readonly region: string;
  readonly credentials: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
    readonly expiration?: Date;
  };
  /** The emulator's CA; the certificate is checked against `signingHost`, as on RDS. */
  readonly ssl: { readonly ca: string };
}

/**
 * The {@link EmulatorIamOptions} of an emulator, signed with the accepted key `accessKeyId` (default:
 * the first accepted key). Policies of that key are not part of the result: they stay server-side.
 *
 * @throws {TypeError} when no accepted key has that id.
 * @example
 * ```ts
 * const options = emulatorIamOptions({ endpoint, region, caPem, credentials: [DEMO_CREDENTIALS] });
 * ```
 */
export function emulatorIamOptions(
  emulator: {
    readonly endpoint: EndpointAddress;
    readonly region: string;
    readonly caPem: string;
    readonly credentials: readonly EmulatorCredentials[];
  },
  accessKeyId?: string,
): EmulatorIamOptions {
  const key =
    accessKeyId === undefined
      ? emulator.credentials[0]
      : emulator.credentials.findLast((c) => c.accessKeyId === accessKeyId);
  if (!key) {
    throw new TypeError(
      accessKeyId === undefined
        ? 'the emulator accepts no access key: pass `credentials` to startEmulator() or call addCredentials()'
        : `the emulator does not accept the access key ${JSON.stringify(accessKeyId)}: add it with addCredentials()`,
    );
  }
  const { accessKeyId: id, secretAccessKey, sessionToken, expiration } = key;
  return {
    signingHost: emulator.endpoint.host,
    signingPort: emulator.endpoint.port,
    region: emulator.region,
    credentials: {
      accessKeyId: id,
      secretAccessKey,
      ...(sessionToken !== undefined ? { sessionToken } : {}),
      ...(expiration !== undefined ? { expiration } : {}),
    },
    ssl: { ca: emulator.caPem },
  };
}
