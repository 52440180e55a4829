// A loopback stand-in for the ECS container-credentials endpoint
// (AWS_CONTAINER_CREDENTIALS_FULL_URI): answers every GET /creds[/label] with the same temporary
// credentials as JSON and counts the requests per label, so each child process can be told apart.
import { randomBytes } from 'node:crypto';
import http from 'node:http';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomKeyId() {
  return `ASIA${[...randomBytes(16)].map((b) => ALPHABET[b % ALPHABET.length]).join('')}`;
}

/**
 * Starts the endpoint on 127.0.0.1 (an ephemeral port).
 * @param {{ lifetimeMs?: number, delayMs?: number }} [options] how long the credentials stay valid
 *   (from start; ECS hands out role credentials for hours), and an artificial response delay.
 */
export async function startCredentialsEndpoint({ lifetimeMs = 6 * 3_600_000, delayMs = 0 } = {}) {
  const credentials = {
    accessKeyId: randomKeyId(),
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: randomBytes(180).toString('base64'),
    expiration: new Date(Date.now() + lifetimeMs),
  };
  const body = JSON.stringify({
    AccessKeyId: credentials.accessKeyId,
    SecretAccessKey: credentials.secretAccessKey,
    Token: credentials.sessionToken,
    Expiration: credentials.expiration.toISOString(),
  });
  /** @type {Map<string, number>} */
  const counts = new Map();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method !== 'GET' || !(path === '/creds' || path.startsWith('/creds/'))) {
      res.writeHead(404).end();
      return;
    }
    const label = path.slice('/creds/'.length);
    counts.set(label, (counts.get(label) ?? 0) + 1);
    const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(undefined));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    credentials,
    /** The URI a child gets as AWS_CONTAINER_CREDENTIALS_FULL_URI; `label` names its counter. */
    url: (label) => `http://127.0.0.1:${port}/creds/${encodeURIComponent(label)}`,
    requests: (label) => counts.get(label) ?? 0,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    stop: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}
