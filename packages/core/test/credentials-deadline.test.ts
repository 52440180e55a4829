import { execFile } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider, parseAuthToken, RdsIamError, type TokenEvent } from '../src/index.js';
import { fakeClock, isolateAwsEnvironment, MINUTE } from './helpers.js';

// A hung credential source must not hang every new connection: credentialsTimeoutMs bounds the wait,
// one request serves every caller while it hangs, backoff applies, the next answer is used at once.
const HOST = 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com';
const testDir = isolateAwsEnvironment('rds-iam-deadline-');

async function rejection(promise: Promise<unknown>): Promise<RdsIamError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(RdsIamError);
    return err as RdsIamError;
  }
  throw new Error('expected a rejection');
}

const credentialsFor = (serial: number, now: number) => ({
  accessKeyId: `ASIADEADLINE000000${serial}`,
  secretAccessKey: 'secret',
  sessionToken: `session-${serial}`,
  expiration: new Date(now + 60 * MINUTE),
});

describe('credentialsTimeoutMs with a stand-in provider function', () => {
  it('a hung provider: one call for every caller, ERR_CREDENTIALS_TIMEOUT at the bound, backoff, then recovery', async () => {
    const clock = fakeClock();
    let calls = 0;
    let answer = false;
    const credentials = () => {
      calls += 1;
      // Hangs (never settles) until told to answer.
      return answer
        ? Promise.resolve(credentialsFor(calls, clock.now()))
        : new Promise<never>(() => {});
    };
    const events: TokenEvent[] = [];
    const provider = createTokenProvider({
      host: HOST,
      port: 5432,
      user: 'app',
      credentials,
      credentialsTimeoutMs: 150,
      now: clock.now,
      onEvent: (e) => events.push(e),
    });
    const started = performance.now();
    const errors = await Promise.all(
      Array.from({ length: 50 }, () => rejection(provider.getToken())),
    );
    const waited = performance.now() - started;
    expect(calls).toBe(1);
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(2_000);
    for (const error of errors) {
      expect(error.code).toBe('ERR_CREDENTIALS_TIMEOUT');
      expect(error.message).toContain('the `credentials` provider');
      expect(error.message).toContain('150 ms');
    }
    // Backoff: a pool's retry storm fails fast and does not reach the source.
    const fast = performance.now();
    expect((await rejection(provider.getToken())).code).toBe('ERR_CREDENTIALS_TIMEOUT');
    expect(performance.now() - fast).toBeLessThan(50);
    expect(calls).toBe(1);
    // The source answers again: the first call after the backoff gets a token.
    answer = true;
    clock.advance(MINUTE);
    const token = await provider.getToken();
    expect(parseAuthToken(token).accessKeyId).toBe('ASIADEADLINE0000002');
    expect(calls).toBe(2);
    expect(events.filter((e) => e.type === 'error').length).toBeGreaterThanOrEqual(51);
  });

  it('a slow provider inside the bound is waited for', async () => {
    const clock = fakeClock();
    const provider = createTokenProvider({
      host: HOST,
      port: 5432,
      user: 'app',
      credentials: () =>
        new Promise((resolve) => setTimeout(() => resolve(credentialsFor(1, clock.now())), 100)),
      credentialsTimeoutMs: 2_000,
      now: clock.now,
    });
    expect(parseAuthToken(await provider.getToken()).accessKeyId).toBe('ASIADEADLINE0000001');
  });

  it('a background refresh that hangs gives up at the bound and signs with the credentials still valid', async () => {
    const clock = fakeClock();
    let calls = 0;
    const credentials = () => {
      calls += 1;
      // 20-minute credentials, then a hang.
      return calls === 1
        ? Promise.resolve({
            ...credentialsFor(1, clock.now()),
            expiration: new Date(clock.now() + 20 * MINUTE),
          })
        : new Promise<never>(() => {});
    };
    const events: TokenEvent[] = [];
    const provider = createTokenProvider({
      host: HOST,
      port: 5432,
      user: 'app',
      credentials,
      credentialsTimeoutMs: 100,
      now: clock.now,
      onEvent: (e) => events.push(e),
    });
    const first = await provider.getToken();
    clock.advance(11 * MINUTE); // inside refreshAheadMs, still usable: served at once, refresh starts
    expect(await provider.getToken()).toBe(first);
    const started = performance.now();
    while (!events.some((e) => e.type === 'minted' && e.background)) {
      expect(performance.now() - started).toBeLessThan(2_000);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(performance.now() - started).toBeGreaterThanOrEqual(80);
    expect(calls).toBe(2);
    const second = await provider.getToken();
    expect(second).not.toBe(first);
    expect(parseAuthToken(second).accessKeyId).toBe('ASIADEADLINE0000001');
  });

  it('rejects a credentialsTimeoutMs that is not a positive number of ms, before any call', () => {
    for (const bad of [0, -1, Number.NaN, '5000', 2 ** 31]) {
      expect(() =>
        createTokenProvider({
          host: HOST,
          port: 5432,
          user: 'u',
          credentialsTimeoutMs: bad as number,
        }),
      ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
  });
});

/** `answer-once`: answers one request with 20-minute credentials, then hangs. */
type Mode = 'hang' | 'slow' | 'error' | 'garbage' | 'answer' | 'answer-once';

/** A loopback stand-in of the container credentials endpoint whose behaviour the test switches. */
function containerEndpoint() {
  let mode: Mode = 'answer';
  let requests = 0;
  const hung: ServerResponse[] = [];
  const server: Server = createServer((_req, res) => {
    requests += 1;
    const lifetimeMs = mode === 'answer-once' ? 20 * MINUTE : 6 * 60 * MINUTE;
    const answer = () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          AccessKeyId: `ASIACONTAINER000000${requests}`,
          SecretAccessKey: 'containersecret',
          Token: 'container-session-token',
          Expiration: new Date(Date.now() + lifetimeMs).toISOString(),
        }),
      );
    };
    if (mode === 'answer-once') {
      mode = 'hang';
      answer();
    } else if (mode === 'hang') hung.push(res);
    else if (mode === 'slow') setTimeout(answer, 300);
    else if (mode === 'error') {
      res.statusCode = 500;
      res.end(JSON.stringify({ Code: 'InternalError', Message: 'agent unavailable' }));
    } else if (mode === 'garbage') res.end('<html>not json</html>');
    else answer();
  });
  return {
    server,
    set mode(next: Mode) {
      mode = next;
    },
    get requests() {
      return requests;
    },
    /** Requests the stand-in holds open whose client has not gone away. */
    openHung: () => hung.filter((res) => !res.socket?.destroyed).length,
    url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/credentials/unit`,
    async start() {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('the default chain against a container endpoint that hangs, is slow, errs, then recovers', () => {
  const endpoint = containerEndpoint();
  beforeAll(() => endpoint.start());
  afterAll(() => endpoint.close());

  it('fails within the bound naming the endpoint, aborts the request, and recovers', async () => {
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = endpoint.url();
    const clock = fakeClock(Date.now());
    const options = {
      host: HOST,
      port: 5432,
      user: 'app',
      credentialsTimeoutMs: 200,
      now: clock.now,
    };
    endpoint.mode = 'hang';
    const hung = createTokenProvider(options);
    const started = performance.now();
    const errors = await Promise.all(Array.from({ length: 20 }, () => rejection(hung.getToken())));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(endpoint.requests).toBe(1);
    for (const error of errors) {
      expect(error.code).toBe('ERR_CREDENTIALS_TIMEOUT');
      expect(error.message).toContain(`the container credentials endpoint ${endpoint.url()}`);
      expect(error.message).toContain('200 ms');
    }
    // The abandoned request's socket is closed, not left hanging.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(endpoint.openHung()).toBe(0);

    endpoint.mode = 'error';
    clock.advance(MINUTE);
    const failed = await rejection(createTokenProvider(options).getToken());
    expect(failed.code).toBe('ERR_CREDENTIALS');
    expect(failed.message).toContain('HTTP 500: agent unavailable');

    endpoint.mode = 'garbage';
    const garbled = await rejection(createTokenProvider(options).getToken());
    expect(garbled.code).toBe('ERR_CREDENTIALS');

    endpoint.mode = 'slow';
    const slow = createTokenProvider({ ...options, credentialsTimeoutMs: 2_000 });
    expect(parseAuthToken(await slow.getToken()).accessKeyId).toMatch(/^ASIACONTAINER/);

    // The first provider recovers after its backoff, with no new request (the slow one's answer is
    // cached for the identity).
    endpoint.mode = 'answer';
    const before = endpoint.requests;
    clock.advance(MINUTE);
    expect(parseAuthToken(await hung.getToken()).accessKeyId).toMatch(/^ASIACONTAINER/);
    expect(endpoint.requests).toBe(before);
  });
});

describe('nothing of a hung source keeps a process alive (fresh processes, built package)', () => {
  const endpoint = containerEndpoint();
  beforeAll(() => endpoint.start());
  afterAll(() => endpoint.close());

  function run(script: string): Promise<{ ms: number; code: number | null; stdout: string }> {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
    Object.assign(env, {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: endpoint.url(),
      AWS_CONFIG_FILE: join(testDir(), 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(testDir(), 'credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    const started = performance.now();
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        ['--input-type=module', '-e', script],
        { cwd: fileURLToPath(new URL('..', import.meta.url)), env, timeout: 20_000 },
        (_err, stdout) =>
          resolve({ ms: performance.now() - started, code: child.exitCode, stdout }),
      );
    });
  }

  it('an awaited getToken() rejects at the bound and the process exits right after', async () => {
    endpoint.mode = 'hang';
    const { ms, code, stdout } = await run(
      `import { createTokenProvider } from '@rds-iam/core';
       const p = createTokenProvider({ host: '${HOST}', port: 5432, user: 'u', credentialsTimeoutMs: 1000 });
       const t = performance.now();
       await p.getToken().catch((e) => console.log(e.code, Math.round(performance.now() - t)));`,
    );
    expect(code).toBe(0);
    const [errorCode, waited] = stdout.trim().split(' ');
    expect(errorCode).toBe('ERR_CREDENTIALS_TIMEOUT');
    expect(Number(waited)).toBeGreaterThanOrEqual(990);
    expect(ms - Number(waited)).toBeLessThan(5_000);
  });

  it('a background refresh hung on the source does not hold the process open', async () => {
    endpoint.mode = 'answer-once';
    const before = endpoint.requests;
    const { ms, code, stdout } = await run(
      `import { createTokenProvider } from '@rds-iam/core';
       let t = Date.now();
       const p = createTokenProvider({ host: '${HOST}', port: 5432, user: 'u', now: () => t, credentialsTimeoutMs: 60000,
         onEvent: (e) => e.type === 'hit' && console.log('hit', e.refreshing) });
       await p.getToken();
       // Into the refresh window, past the credentials' re-ask time: a background mint asks the
       // endpoint, which now hangs.
       t += 11 * 60_000;
       await p.getToken();`,
    );
    expect(stdout).toContain('hit true');
    expect(endpoint.requests - before).toBe(2);
    expect(code).toBe(0);
    // The refresh's deadline is a minute away: exiting well before it means nothing held the loop.
    expect(ms).toBeLessThan(15_000);
  });
});
