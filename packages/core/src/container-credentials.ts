import type { IncomingMessage } from 'node:http';
import { nodeFsPromises } from './builtins.js';
import type { AwsCredentials } from './credentials.js';

/** The ECS agent's address for `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`. */
const ECS_HOST = 'http://169.254.170.2';
/**
 * Hosts a plain-http `AWS_CONTAINER_CREDENTIALS_FULL_URI` may name, as the SDK allows them: loopback,
 * the ECS agent and the EKS Pod Identity agent. Anything else must be https.
 */
const HTTP_HOSTS = new Set([
  'localhost',
  '[::1]',
  '169.254.170.2',
  '169.254.170.23',
  '[fd00:ec2::23]',
]);
/** More than any credentials document; a larger answer is not one. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The container credentials endpoint the environment names (ECS task role, EKS Pod Identity, a local
 * stand-in), or `undefined` when none or one the SDK would refuse (then the SDK's chain reports it).
 */
export function containerEndpoint(env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const relative = env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  const full = env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
  if (!relative && !full) return undefined;
  let url: URL;
  try {
    url = relative ? new URL(relative, ECS_HOST) : new URL(full as string);
  } catch {
    return undefined;
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol !== 'http:') return undefined;
  return HTTP_HOSTS.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname)
    ? url
    : undefined;
}

/** `http://127.0.0.1:8080/v2/credentials`: the endpoint as messages name it (no query). */
export function describeEndpoint(url: URL): string {
  return `the container credentials endpoint ${url.origin}${url.pathname}`;
}

/**
 * One request to the container credentials endpoint, aborted by `signal`. No retries here: the token
 * provider's backoff decides when to ask again. The socket is unref'd: it is the caller's deadline,
 * not this request, that decides how long a process stays up for it.
 */
export async function fetchContainerCredentials(
  url: URL,
  signal: AbortSignal,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AwsCredentials> {
  const tokenFile = env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
  const authorization = tokenFile
    ? (await nodeFsPromises().readFile(tokenFile, 'utf8')).trim()
    : env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  const { request } =
    url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const { status, body } = await new Promise<{ status: number; body: string }>(
    (resolve, reject) => {
      const req = request(url, {
        method: 'GET',
        signal,
        headers: authorization ? { Authorization: authorization } : {},
      });
      req.on('socket', (socket) => socket.unref());
      req.on('error', reject);
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES)
            req.destroy(new Error(`an answer over ${MAX_BODY_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      });
      req.end();
    },
  );
  let document: Record<string, unknown> | undefined;
  try {
    document = JSON.parse(body) as Record<string, unknown>;
  } catch {
    document = undefined;
  }
  if (status < 200 || status >= 300) {
    const said = typeof document?.Message === 'string' ? `: ${document.Message.slice(0, 200)}` : '';
    throw new Error(`HTTP ${status}${said}`);
  }
  const { AccessKeyId, SecretAccessKey, Token, Expiration } = document ?? {};
  const expiration = typeof Expiration === 'string' ? new Date(Expiration) : undefined;
  if (
    typeof AccessKeyId !== 'string' ||
    typeof SecretAccessKey !== 'string' ||
    (expiration !== undefined && !Number.isFinite(expiration.getTime()))
  ) {
    throw new Error(
      `HTTP ${status} without AccessKeyId, SecretAccessKey and a valid Expiration in its JSON`,
    );
  }
  return {
    accessKeyId: AccessKeyId,
    secretAccessKey: SecretAccessKey,
    ...(typeof Token === 'string' ? { sessionToken: Token } : {}),
    ...(expiration ? { expiration } : {}),
  };
}
