import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from '../src/args.js';
import { DOCTOR_OPTIONS, doctorPlan } from '../src/commands/doctor.js';
import { PROXY_OPTIONS, proxyTargets } from '../src/commands/proxy-targets.js';
import { UsageError } from '../src/errors.js';
import {
  assertBuilt,
  check,
  cleanEnv,
  closedPort,
  DEMO_ENV,
  json,
  rdsIam,
  removeScratch,
} from './helpers.js';

// `doctor` and `proxy` take a target the same way: one option table, one URL parser. Given the same
// words, the endpoint doctor checks is the endpoint the proxy serves, and bad words are refused by
// both in the same terms.

const dir = mkdtempSync(join(tmpdir(), 'rds-iam-targets-'));
const caFile = join(dir, 'ca.pem');
const CA = '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n';
writeFileSync(caFile, CA);
const keyFile = join(dir, 'key.pem');
writeFileSync(
  keyFile,
  '-----BEGIN PRIVATE KEY-----\nnot a certificate\n-----END PRIVATE KEY-----\n',
);
const RDS = 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com';

beforeAll(assertBuilt);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  removeScratch();
});

const doctor = (argv: string[]) => doctorPlan(parse(argv, DOCTOR_OPTIONS).values);
const proxy = (argv: string[]) => proxyTargets(parse(argv, PROXY_OPTIONS).values, {});

/** What a thrown error says, or that nothing was thrown. */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  return 'accepted';
}

describe('one target, two commands', () => {
  const url = `postgres://app%40corp@[::1]:15432/shop?region=eu-west-1&signing-host=${RDS}&signing-port=5432&ca-file=${caFile}&listen=127.0.0.1:6543`;
  const argv = [
    '--target',
    url,
    '--profile',
    'dev',
    '--credentials-timeout',
    '1500',
    '--connect-timeout',
    '2500',
  ];

  it('the same URL: doctor checks the endpoint, user, database, signing name, CA and bounds the proxy serves', () => {
    const { targets, timeouts } = doctor(argv);
    const [served] = proxy(argv);
    expect(targets).toEqual([served?.target]);
    expect(targets[0]).toMatchObject({
      engine: 'postgres',
      host: '::1',
      port: 15432,
      user: 'app@corp',
      database: 'shop',
      region: 'eu-west-1',
      profile: 'dev',
      signingHost: RDS,
      signingPort: 5432,
      signingOverridden: true,
      caFile,
      listen: { host: '127.0.0.1', port: 6543 },
    });
    expect(served?.options).toMatchObject({
      engine: 'postgres',
      host: '::1',
      port: 15432,
      user: 'app@corp',
      database: 'shop',
      region: 'eu-west-1',
      profile: 'dev',
      signingHost: RDS,
      signingPort: 5432,
      ssl: { ca: [CA.trim()] },
      listen: { host: '127.0.0.1', port: 6543 },
      credentialsTimeoutMs: timeouts.credentialsTimeoutMs,
      connectTimeoutMs: timeouts.connectTimeoutMs,
    });
    expect(timeouts).toEqual({ credentialsTimeoutMs: 1500, connectTimeoutMs: 2500 });
  });

  it('the flag form names the same target as the URL (listen aside)', () => {
    const flags = [
      ...['--engine', 'postgres', '--host', '::1', '--port', '15432', '--user', 'app@corp'],
      ...['--database', 'shop', '--region', 'eu-west-1', '--signing-host', RDS],
      ...['--signing-port', '5432', '--ca-file', caFile, '--profile', 'dev'],
    ];
    const [fromFlags] = doctor(flags).targets;
    const [fromUrl] = doctor(argv).targets;
    expect(fromFlags).toEqual({ ...fromUrl, listen: undefined });
    expect(proxy(flags)[0]?.target).toEqual(fromFlags);
  });

  it("several targets: --region, --profile and --ca-file apply where the URL does not say; each URL's own win", () => {
    const many = [
      ...[
        '--target',
        `mysql://app@${RDS}`,
        '--target',
        'mysql://app@10.0.0.5:3307?region=us-east-2',
      ],
      ...['--region', 'eu-west-1', '--profile', 'dev', '--ca-file', caFile],
    ];
    const { targets } = doctor(many);
    expect(targets.map((t) => [t.port, t.region, t.profile, t.caFile])).toEqual([
      [3306, 'eu-west-1', 'dev', caFile],
      [3307, 'us-east-2', 'dev', caFile],
    ]);
    expect(proxy(many).map((p) => p.target)).toEqual(targets);
  });

  it("doctor's bound on the connection defaults shorter than the proxy's, and takes its older name", () => {
    const bare = ['--target', `postgres://app@${RDS}`];
    expect(doctor(bare).timeouts).toEqual({ connectTimeoutMs: 5_000 });
    expect(proxy(bare)[0]?.options.connectTimeoutMs).toBeUndefined(); // the proxy's own 30 s
    expect(doctor([...bare, '--timeout', '700']).timeouts.connectTimeoutMs).toBe(700);
    expect(refusal(() => doctor([...bare, '--timeout', '1', '--connect-timeout', '2']))).toBe(
      '--timeout is the old name of --connect-timeout: give one of them',
    );
  });
});

describe('bad input: both commands refuse it in the same words', () => {
  const cases: [string, string[], RegExp][] = [
    ['not a URL', ['--target', 'my db'], /not a URL like postgres:\/\/user@host\[:port\]\/db/],
    ['an unknown scheme', ['--target', 'oracle://app@h/db'], /the scheme names the engine/],
    ['a password', ['--target', 'mysql://app:secret@h/db'], /must not carry a password/],
    ['no user', ['--target', 'postgres://h/db'], /needs a user and a host/],
    ['a port out of range', ['--target', 'postgres://app@h:70000/db'], /not a URL like/],
    ['a bad region', ['--target', 'postgres://app@h/db?region=europe'], /--region must be/],
    [
      'a bad signing port',
      ['--target', 'postgres://app@h/db?signing-port=0'],
      /--target signing-port must be an integer/,
    ],
    [
      'listen and listen-socket',
      ['--target', 'postgres://app@h/db?listen=:1&listen-socket=/tmp/x'],
      /give --target listen or --target listen-socket, not both/,
    ],
    [
      'a listen address without a port',
      ['--target', 'postgres://app@h/db?listen=localhost'],
      /expected host:port/,
    ],
    [
      '--target and --host',
      ['--target', 'postgres://app@h/db', '--host', 'h', '--user', 'u'],
      /give --target, or --host and --user, not both/,
    ],
    [
      '--target and --port',
      ['--target', 'postgres://app@h/db', '--port', '5433'],
      /--port describes the --host target: with --target, put it in the URL/,
    ],
    [
      'an unreadable CA file',
      ['--target', `postgres://app@h/db?ca-file=${join(dir, 'missing.pem')}`],
      /cannot read --ca-file .*missing\.pem/,
    ],
    [
      // Accepted before: doctor's TLS check then failed as if the server's certificate were wrong,
      // and the proxy listened and failed every login.
      'a CA file with no certificate (a key)',
      ['--target', `postgres://app@h/db?ca-file=${keyFile}`],
      /--ca-file '.*key\.pem' holds no PEM certificate/,
    ],
    [
      'a custom port and no engine',
      ['--host', 'h', '--user', 'u', '--port', '15432'],
      /--engine is required with --port 15432/,
    ],
    [
      '--connect-timeout 0',
      ['--host', RDS, '--user', 'u', '--engine', 'mysql', '--connect-timeout', '0'],
      /--connect-timeout must be a whole number/,
    ],
  ];

  it.each(cases)('%s', (_name, argv, message) => {
    const fromDoctor = refusal(() => doctor(argv));
    expect(fromDoctor).toMatch(message);
    expect(refusal(() => proxy(argv))).toBe(fromDoctor);
  });

  it('the commands report it with the same code, exit code and message', async () => {
    const argv = ['--target', 'oracle://app@h/db', '--json'];
    const [d, p] = await Promise.all([
      rdsIam(['doctor', ...argv], { env: cleanEnv() }),
      rdsIam(['proxy', ...argv], { env: cleanEnv() }),
    ]);
    expect([d.code, p.code]).toEqual([2, 2]);
    const error = json<{ error: { code: string; message: string } }>(d.stdout).error;
    expect(error).toEqual(json<{ error: unknown }>(p.stdout).error);
    expect(error).toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/scheme/) });
    expect(d.stderr.replaceAll('rds-iam doctor', 'rds-iam proxy')).toBe(p.stderr);
  });
});

describe('the shared bounds reach what they bound', () => {
  it('doctor --credentials-timeout: a credential source that never answers fails the credentials check, naming the bound', async () => {
    // A container credentials endpoint that accepts the request and never answers.
    const open = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      open.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const r = await rdsIam(
        [
          'doctor',
          '--target',
          `postgres://app@127.0.0.1:${await closedPort()}/db?region=us-east-1`,
          '--credentials-timeout',
          '300',
          '--json',
        ],
        { env: cleanEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/creds` }) },
      );
      expect(r.code).toBe(1);
      const credentials = check(r.stdout, 'credentials');
      expect(credentials).toMatchObject({ status: 'fail' });
      expect(credentials.detail).toMatch(/did not answer within 300 ms/);
      expect(credentials.fix).toMatch(/raise --credentials-timeout/);
      expect(check(r.stdout, 'token').status).toBe('skip');
    } finally {
      for (const socket of open) socket.destroy();
      await new Promise<void>((done) => silent.close(() => done()));
    }
  });

  it('doctor --connect-timeout is one bound on the connection and login, not one per step', async () => {
    // Answers the SSLRequest after 600 ms, then never answers the TLS handshake: each step alone is
    // within 1000 ms of its start, the two together are not.
    const open = new Set<net.Socket>();
    const slow = net.createServer((socket) => {
      open.add(socket);
      socket.on('error', () => {});
      socket.once('data', () => setTimeout(() => socket.write('S'), 600));
    });
    await new Promise<void>((done) => slow.listen(0, '127.0.0.1', done));
    try {
      const port = (slow.address() as net.AddressInfo).port;
      const r = await rdsIam(
        [
          'doctor',
          '--target',
          `postgres://app@127.0.0.1:${port}/db?region=us-east-1`,
          '--connect-timeout',
          '1000',
          '--json',
        ],
        { env: cleanEnv(DEMO_ENV) },
      );
      expect(r.code).toBe(1);
      expect(check(r.stdout, 'tcp').status).toBe('pass');
      expect(check(r.stdout, 'tls')).toMatchObject({
        status: 'fail',
        detail: 'no TLS session: no answer within 1000 ms',
      });
      expect(check(r.stdout, 'tls').fix).toMatch(/--connect-timeout sets how long/);
    } finally {
      for (const socket of open) socket.destroy();
      await new Promise<void>((done) => slow.close(() => done()));
    }
  });
});
