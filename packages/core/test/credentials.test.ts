import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, parseAuthToken, sharedTokenProvider } from '../src/index.js';
import { fakeClock, isolateAwsEnvironment, MINUTE, STATIC_CREDENTIALS } from './helpers.js';

const HOST = 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com';
isolateAwsEnvironment('rds-iam-creds-');

describe('credential providers', () => {
  it('static credentials sign the token', async () => {
    const provider = createTokenProvider({
      host: HOST,
      port: 5432,
      user: 'app',
      credentials: STATIC_CREDENTIALS,
    });
    const info = parseAuthToken(await provider.getToken());
    expect(info.accessKeyId).toBe(STATIC_CREDENTIALS.accessKeyId);
    expect(info.region).toBe('eu-west-1');
    expect(info.hasSessionToken).toBe(false);
  });

  it('a provider whose credentials carry an expiration is called again before they expire', async () => {
    const clock = fakeClock();
    const calls: Array<{ forceRefresh?: boolean } | undefined> = [];
    let serial = 0;
    const credentials = async (options?: { forceRefresh?: boolean }) => {
      calls.push(options);
      serial += 1;
      return {
        accessKeyId: `ASIATESTKEY0000000${serial}`,
        secretAccessKey: 'secret',
        sessionToken: `session-${serial}`,
        expiration: new Date(clock.now() + 20 * MINUTE),
      };
    };
    const provider = createTokenProvider({
      host: HOST,
      port: 5432,
      user: 'app',
      credentials,
      now: clock.now,
    });
    const t0 = clock.time;
    expect(parseAuthToken(await provider.getToken()).accessKeyId).toBe('ASIATESTKEY00000001');
    expect(calls).toHaveLength(1);
    clock.advance(11 * MINUTE); // refresh window; the credentials have 9 minutes left
    await provider.getToken();
    await vi.waitFor(() => expect(provider.peek()?.issuedAt.getTime()).toBe(clock.time));
    expect(calls).toHaveLength(2);
    expect(calls[1]).toEqual({ forceRefresh: true });
    expect(clock.time).toBeLessThan(t0 + 20 * MINUTE);
    expect(parseAuthToken(await provider.getToken()).accessKeyId).toBe('ASIATESTKEY00000002');
  });

  it('a profile from temporary shared config files gives the keys and the region', async () => {
    writeFileSync(process.env.AWS_CONFIG_FILE!, '[profile dev]\nregion = ap-southeast-2\n');
    writeFileSync(
      process.env.AWS_SHARED_CREDENTIALS_FILE!,
      '[dev]\naws_access_key_id = AKIAPROFILEDEV000001\naws_secret_access_key = devsecret\n',
    );
    const provider = createTokenProvider({
      host: 'db.internal.example',
      port: 5432,
      user: 'app',
      profile: 'dev',
    });
    const info = parseAuthToken(await provider.getToken());
    expect(info.accessKeyId).toBe('AKIAPROFILEDEV000001');
    expect(info.region).toBe('ap-southeast-2');
  });
});

describe('the default chain against a loopback container-credentials endpoint', () => {
  let server: Server;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      requests += 1;
      // A slow endpoint makes a storm of callers overlap.
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            AccessKeyId: 'ASIACONTAINER0000001',
            SecretAccessKey: 'containersecret',
            Token: 'container-session-token',
            Expiration: new Date(Date.now() + 6 * 60 * MINUTE).toISOString(),
          }),
        );
      }, 50);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('is resolved lazily, once per identity, for every provider and a storm of callers', async () => {
    const { port } = server.address() as AddressInfo;
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `http://127.0.0.1:${port}/creds`;
    requests = 0;
    const a = createTokenProvider({ host: HOST, port: 5432, user: 'app' });
    const b = createTokenProvider({ host: HOST, port: 5432, user: 'reporting' });
    const c = sharedTokenProvider({ host: HOST, port: 5432, user: 'app' });
    expect(requests).toBe(0);
    const tokens = await Promise.all(
      Array.from({ length: 300 }, (_, i) => [a, b, c][i % 3]!.getToken()),
    );
    expect(requests).toBe(1);
    expect(parseAuthToken(tokens[0]!)).toMatchObject({
      accessKeyId: 'ASIACONTAINER0000001',
      hasSessionToken: true,
    });
    expect(parseAuthToken(tokens[1]!).user).toBe('reporting');
    c.close();
  });
});
