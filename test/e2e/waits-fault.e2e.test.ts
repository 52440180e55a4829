// Every wait between a pool asking for a connection and the login, other than the credential source
// (credentials-fault), against a loopback stand-in that hangs, then answers: the emulator's upstream
// connect under real pg and mysql2 pools, the TLS probe behind the Prisma CLI URL, and the CLI's RDS
// API look-up. Each fails within its bound with a message that says what hung, then works again.
import { execFile } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Emulator, startEmulator } from '@rds-iam/emulator';
import { iamDatabaseUrl } from '@rds-iam/prisma';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  DEFAULT_ENDPOINT_HOST,
  hasDatabase,
  type IamEndpoint,
  requireDatabase,
  startIamEndpoint,
  upstreamAuth,
} from '../harness/index.js';
import { DRIVERS, type Gate, rejectionOf, startGate } from './driver-support.js';

const KEYS = {
  accessKeyId: 'AKIAWAITSFAULT000001',
  secretAccessKey: 'waits-fault-secret-key-0000000000000000',
};

for (const driver of DRIVERS) {
  const { engine } = driver;
  describe.runIf(hasDatabase(engine))(
    `the emulator's upstream connect hangs, then answers (${driver.name})`,
    () => {
      const HANDSHAKE_MS = 1_000;
      let gate: Gate;
      let emulator: Emulator;
      beforeAll(async () => {
        // The gate with no slot accepts the emulator's upstream connection and never answers.
        gate = await startGate(requireDatabase(engine), 0);
        emulator = await startEmulator({
          engine,
          upstream: { host: '127.0.0.1', port: gate.port, auth: upstreamAuth(engine) },
          host: '127.0.0.1',
          endpoint: { host: DEFAULT_ENDPOINT_HOST },
          credentials: [KEYS],
          handshakeTimeoutMs: HANDSHAKE_MS,
        });
      });
      afterAll(async () => {
        await emulator?.stop();
        await gate?.close();
      });

      test('a query fails within handshakeTimeoutMs, then succeeds once the upstream answers', async () => {
        const app = await createIamUser(engine);
        const pool = driver.createPool({
          host: emulator.host,
          port: emulator.port,
          user: app.user,
          database: app.database,
          signingHost: emulator.endpoint.host,
          signingPort: emulator.endpoint.port,
          credentials: KEYS,
          ssl: { ca: emulator.caPem },
          size: 1,
        });
        try {
          const started = performance.now();
          const err = await rejectionOf(pool.query('SELECT 1 AS one'));
          const waited = performance.now() - started;
          expect(waited).toBeGreaterThanOrEqual(HANDSHAKE_MS - 50);
          expect(waited).toBeLessThan(HANDSHAKE_MS + 4_000);
          expect(err.message).toMatch(
            /upstream server \S+ .*(did not answer|no answer) within 1000 ms/,
          );
          gate.setSlots(5);
          expect(await pool.query('SELECT 1 AS one')).toEqual({ one: 1 });
        } finally {
          await pool.end();
        }
      });
    },
  );
}

/** A TCP server that accepts and then does `onConnection` (nothing: a hang). */
async function tcpStandIn(onConnection: (socket: net.Socket) => void = () => {}) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe.runIf(hasDatabase('postgres'))(
  'the TLS probe behind iamDatabaseUrl hangs, then answers',
  () => {
    let iam: IamEndpoint;
    beforeAll(async () => {
      iam = await startIamEndpoint('postgres');
    });

    test('no answer to SSLRequest, or no TLS handshake after it: ERR within 10 s; then a URL', async () => {
      const silent = await tcpStandIn();
      // Says 'S' (TLS, go ahead) and then never speaks TLS.
      const stalled = await tcpStandIn((socket) => socket.once('data', () => socket.write('S')));
      const options = (port: number) => ({
        engine: 'postgres' as const,
        host: '127.0.0.1',
        port,
        user: 'app',
        signingHost: iam.endpoint.host,
        signingPort: iam.endpoint.port,
        region: iam.region,
        credentials: iam.credentials,
        ssl: { ca: iam.ca },
      });
      try {
        const started = performance.now();
        const errors = await Promise.all([
          rejectionOf(iamDatabaseUrl(options(silent.port))),
          rejectionOf(iamDatabaseUrl(options(stalled.port))),
        ]);
        const waited = performance.now() - started;
        expect(waited).toBeGreaterThanOrEqual(9_900);
        expect(waited).toBeLessThan(14_000);
        for (const err of errors) {
          expect(err.name).toBe('RdsIamError');
          expect(err.message).toContain('no TLS session after 10000 ms');
        }
      } finally {
        await Promise.all([silent.close(), stalled.close()]);
      }
      const url = await iamDatabaseUrl({ ...options(iam.port), database: 'postgres' });
      expect(url).toMatch(/^postgresql:\/\/app:/);
    }, 30_000);
  },
);

const CLI = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));

/** Runs the `rds-iam` CLI in a fresh process with static keys and no AWS files. */
function rdsIam(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      {
        env: {
          PATH: process.env.PATH,
          AWS_ACCESS_KEY_ID: KEYS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey,
          AWS_REGION: 'eu-west-1',
          AWS_CONFIG_FILE: '/nonexistent/rds-iam-e2e/config',
          AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/rds-iam-e2e/credentials',
          AWS_EC2_METADATA_DISABLED: 'true',
          ...env,
        },
        timeout: 30_000,
      },
      (_err, stdout, stderr) =>
        resolve({ code: child.exitCode, stdout, stderr, ms: performance.now() - started }),
    );
  });
}

describe("the CLI's RDS API look-up hangs, errs, then answers", () => {
  let mode: 'hang' | 'error' | 'answer' = 'hang';
  const api = createHttpServer((req, res) => {
    req.resume();
    if (mode === 'hang') return;
    res.setHeader('content-type', 'text/xml');
    if (mode === 'error') {
      res.statusCode = 500;
      res.end(
        '<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>stand-in failure</Message></Error></ErrorResponse>',
      );
      return;
    }
    res.end(
      '<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances><DBInstance><DbiResourceId>db-WAITSFAULT0123456</DbiResourceId><DBInstanceArn>arn:aws:rds:eu-west-1:210987654321:db:orders</DBInstanceArn><IAMDatabaseAuthenticationEnabled>true</IAMDatabaseAuthenticationEnabled></DBInstance></DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>',
    );
  });
  beforeAll(() => new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve)));
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        api.closeAllConnections();
        api.close(() => resolve());
      }),
  );

  test('--timeout bounds a hung API (exit 4, says so); an error is reported; then the policy', async () => {
    const policy = () =>
      rdsIam(['policy', '--instance', 'orders', '--user', 'app', '--json', '--timeout', '1000'], {
        AWS_ENDPOINT_URL_RDS: `http://127.0.0.1:${(api.address() as net.AddressInfo).port}`,
      });
    mode = 'hang';
    const hung = await policy();
    expect(hung.code).toBe(4);
    expect(hung.stderr).toContain('DescribeDBInstances did not answer within 1000 ms');
    expect(hung.ms).toBeLessThan(8_000);
    mode = 'error';
    const failed = await policy();
    expect(failed.code).toBe(4);
    expect(failed.stderr).toContain('DescribeDBInstances failed');
    mode = 'answer';
    const answered = await policy();
    expect(answered.stderr).toBe('');
    expect(answered.code).toBe(0);
    expect(answered.stdout).toContain('dbuser:db-WAITSFAULT0123456/app');
  }, 40_000);
});

describe.runIf(hasDatabase('postgres'))(
  "the doctor's probes against a server that never answers",
  () => {
    test('the connection ends at --connect-timeout (here by its older name, --timeout) and the run fails with the step named', async () => {
      const silent = await tcpStandIn();
      try {
        const r = await rdsIam([
          'doctor',
          '--host',
          '127.0.0.1',
          '--port',
          String(silent.port),
          '--engine',
          'postgres',
          '--user',
          'app',
          '--signing-host',
          'mydb.abc123xyz.eu-west-1.rds.amazonaws.com',
          '--timeout',
          '1000',
          '--json',
        ]);
        expect(r.code).toBe(1);
        expect(r.ms).toBeLessThan(10_000);
        const { checks } = JSON.parse(r.stdout) as {
          checks: Array<{ id: string; status: string; detail: string }>;
        };
        const tls = checks.find((c) => c.id === 'tls');
        expect(tls?.status).toBe('fail');
        expect(tls?.detail).toMatch(/within 1000 ms/);
      } finally {
        await silent.close();
      }
    }, 30_000);
  },
);
