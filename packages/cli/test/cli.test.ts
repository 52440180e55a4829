import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanEnv, json, rdsIam, removeScratch } from './helpers.js';

beforeAll(assertBuilt);
afterAll(removeScratch);

describe.concurrent('usage errors: one line on stderr, exit code 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['missing host', ['token', '--user', 'app', '--port', '5432'], /--host is required/],
    ['missing user', ['token', '--host', 'db.example.com', '--port', '5432'], /--user is required/],
    [
      'unknown engine',
      ['token', '--host', 'h', '--user', 'u', '--engine', 'oracle'],
      /--engine must be postgres or mysql \(got 'oracle'\)/,
    ],
    [
      'port out of range',
      ['token', '--host', 'h', '--user', 'u', '--port', '70000'],
      /--port must be an integer from 1 to 65535 \(got '70000'\)/,
    ],
    [
      'port not a number',
      ['doctor', '--host', 'h', '--user', 'u', '--port', 'abc'],
      /--port must be an integer/,
    ],
    [
      'signing port out of range',
      ['token', '--host', 'h', '--user', 'u', '--port', '1', '--signing-port', '0'],
      /--signing-port must be an integer/,
    ],
    [
      'no port and no engine',
      ['token', '--host', 'h', '--user', 'u'],
      /--port or --engine is required/,
    ],
    [
      'host given as a URL',
      ['token', '--host', 'postgres://h', '--user', 'u', '--port', '1'],
      /must be a hostname, not a URL/,
    ],
    [
      'host with a port',
      ['token', '--host', 'h:5432', '--user', 'u', '--engine', 'postgres'],
      /pass the port in --port/,
    ],
    [
      'unknown option',
      ['token', '--hots', 'h'],
      /unknown option '--hots' \(did you mean --host\?\)/,
    ],
    [
      'unknown option nothing is near',
      ['token', '--frobnicate', 'h'],
      /unknown option '--frobnicate' \(see rds-iam token --help\)$/,
    ],
    [
      'unknown option, a unique start of one',
      ['doctor', '--signing-h', 'h'],
      /unknown option '--signing-h' \(did you mean --signing-host\?\)/,
    ],
    ['option without value', ['token', '--host'], /--host needs a value/],
    ['unknown command', ['tokens'], /unknown command 'tokens' \(did you mean token\? commands: /],
    [
      'unknown command, swapped letters',
      ['doctro'],
      /unknown command 'doctro' \(did you mean doctor\?/,
    ],
    ['unknown command nothing is near', ['deploy'], /unknown command 'deploy' \(commands: token, /],
    [
      'unknown flag before a command',
      ['--verison'],
      /unknown option '--verison' before a command \(did you mean --version\?/,
    ],
    [
      'url without engine',
      ['url', '--host', 'h', '--user', 'u', '--port', '1'],
      /--engine is required/,
    ],
    ['connect without client', ['connect', '--host', 'h', '--user', 'u'], /which client/],
    [
      'connect unknown client',
      ['connect', 'sqlcmd', '--host', 'h', '--user', 'u'],
      /unknown client 'sqlcmd'/,
    ],
    [
      'connect engine mismatch',
      ['connect', 'psql', '--engine', 'mysql', '--host', 'h', '--user', 'u'],
      /does not match the psql client/,
    ],
    [
      'doctor custom port without engine',
      ['doctor', '--host', 'h', '--user', 'u', '--port', '15432'],
      /--engine is required with --port 15432/,
    ],
    ['decode without token', ['decode'], /a token is required/],
    [
      'policy without users',
      ['policy', '--region', 'us-east-1', '--account', '123456789012', '--resource-id', 'db-ABC'],
      /--user is required/,
    ],
    [
      'policy bad region',
      [
        'policy',
        '--region',
        'Europe',
        '--account',
        '123456789012',
        '--resource-id',
        'db-ABC',
        '--user',
        'u',
      ],
      /--region must be an AWS region/,
    ],
    [
      'emulator unknown engine',
      ['emulator', '--engine', 'oracle'],
      /--engine must be postgres or mysql/,
    ],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const r = await rdsIam(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rds-iam( \w+)?: /);
    expect(lines[0]).toMatch(message);
  });

  it('with --json also prints the error as JSON on stdout', async () => {
    const r = await rdsIam(['token', '--json', '--user', 'u', '--port', '5432']);
    expect(r.code).toBe(2);
    expect(json(r.stdout)).toEqual({
      error: {
        code: 'ERR_USAGE',
        message: '--host is required (the database endpoint)',
        exitCode: 2,
      },
    });
  });
});

describe.concurrent('help', () => {
  it('lists every command, and exits 2 without a command', async () => {
    const bare = await rdsIam([]);
    expect(bare.code).toBe(2);
    const help = await rdsIam(['--help']);
    expect(help.code).toBe(0);
    for (const name of ['token', 'url', 'connect', 'decode', 'policy', 'doctor', 'emulator']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
    expect(help.stdout).toContain('Exit codes:');
  });

  it.each(['token', 'url', 'connect', 'decode', 'policy', 'doctor', 'emulator'])(
    '%s --help has usage, examples and exit codes',
    async (name) => {
      const r = await rdsIam([name, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: rds-iam ${name}`));
      expect(r.stdout).toContain('Examples:');
      expect(r.stdout).toContain('Exit codes:');
      expect(r.stdout).not.toContain('\u001b[');
    },
  );

  it('prints the version: --version, -v and the command version alike', async () => {
    const r = await rdsIam(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    for (const args of [['-v'], ['version']]) {
      expect(await rdsIam(args)).toMatchObject({ code: 0, stdout: r.stdout, stderr: '' });
    }
  });
});

describe('colour', () => {
  const args = ['token', '--port', '5432', '--user', 'u'];
  it('is off on a pipe', async () => {
    const r = await rdsIam(args);
    expect(r.stderr).not.toContain('\u001b[');
  });
  it('is on with FORCE_COLOR, and NO_COLOR wins over it', async () => {
    const forced = await rdsIam(args, { env: cleanEnv({ FORCE_COLOR: '1' }) });
    expect(forced.stderr).toContain('\u001b[31m');
    const off = await rdsIam(args, { env: cleanEnv({ FORCE_COLOR: '1', NO_COLOR: '1' }) });
    expect(off.stderr).not.toContain('\u001b[');
  });
});

describe.concurrent('token and url without a database', () => {
  const env = cleanEnv({
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  });
  const host = 'orders.c9akciq32xyz.eu-west-1.rds.amazonaws.com';

  it('token takes the region from an RDS hostname and prints only the token', async () => {
    const r = await rdsIam(['token', '--host', host, '--port', '5432', '--user', 'app'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const token = r.stdout.trim();
    expect(token.split('\n')).toHaveLength(1);
    expect(token).toMatch(
      new RegExp(`^${host.replaceAll('.', '\\.')}:5432/\\?Action=connect&DBUser=app&`),
    );
    expect(token).toContain('%2Feu-west-1%2Frds-db%2Faws4_request');
    expect(token).toContain('X-Amz-Expires=900');
  });

  it('token --json carries the token and its times', async () => {
    const r = await rdsIam(
      ['token', '--host', host, '--engine', 'mysql', '--user', 'app', '--json'],
      { env },
    );
    const out = json<Record<string, unknown>>(r.stdout);
    expect(out).toMatchObject({ host, port: 3306, user: 'app', region: 'eu-west-1' });
    expect(String(out.token)).toContain('X-Amz-Signature=');
    expect(Date.parse(String(out.expiresAt)) - Date.parse(String(out.issuedAt))).toBe(900_000);
  });

  it('token needs a region for a non-RDS host, and says which flag', async () => {
    const r = await rdsIam(['token', '--host', 'db.internal', '--port', '5432', '--user', 'app'], {
      env,
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^rds-iam token: no signing region .*Pass --region/);
  });

  it('a missing credential gives exit code 3 and no stack', async () => {
    const r = await rdsIam(['token', '--host', host, '--port', '5432', '--user', 'app'], {
      env: cleanEnv(),
    });
    expect(r.code).toBe(3);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/could not resolve AWS credentials/);
  });

  it('url URL-encodes the token and turns TLS verification on', async () => {
    const pg = await rdsIam(
      [
        'url',
        '--engine',
        'postgres',
        '--host',
        host,
        '--user',
        'app',
        '--database',
        'orders',
        '--ca-file',
        '/etc/rds ca.pem',
      ],
      { env },
    );
    expect(pg.code).toBe(0);
    const url = new URL(pg.stdout.trim());
    expect(url.protocol).toBe('postgres:');
    expect(url.hostname).toBe(host);
    expect(url.port).toBe('5432');
    expect(url.pathname).toBe('/orders');
    expect(url.searchParams.get('sslmode')).toBe('verify-full');
    expect(url.searchParams.get('sslrootcert')).toBe('/etc/rds ca.pem');
    expect(url.password).not.toMatch(/[?&=/]/);
    expect(decodeURIComponent(url.password)).toMatch(
      /^orders\..*:5432\/\?Action=connect&DBUser=app&.*X-Amz-Signature=[0-9a-f]{64}/,
    );

    const my = await rdsIam(
      ['url', '--engine', 'mysql', '--host', host, '--user', 'app', '--json'],
      { env },
    );
    const out = json<{ url: string }>(my.stdout);
    const mysqlUrl = new URL(out.url);
    expect(mysqlUrl.protocol).toBe('mysql:');
    expect(mysqlUrl.port).toBe('3306');
    expect(mysqlUrl.searchParams.get('ssl-mode')).toBe('VERIFY_IDENTITY');
  });
});

describe('colour decision', () => {
  it('on a terminal only, never with NO_COLOR or TERM=dumb', async () => {
    const { colorEnabled } = await import('../src/io.js');
    expect(colorEnabled({ write: () => true, isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ write: () => true, isTTY: false }, {})).toBe(false);
    expect(colorEnabled({ write: () => true }, {})).toBe(false);
    expect(colorEnabled({ write: () => true, isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ write: () => true, isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled({ write: () => true, isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled({ write: () => true, isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(
      colorEnabled({ write: () => true, isTTY: true }, { FORCE_COLOR: '1', NO_COLOR: 'x' }),
    ).toBe(false);
  });
});

describe.concurrent('hosts', () => {
  const env = cleanEnv({
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'x',
    AWS_REGION: 'us-east-1',
  });
  it.each(['::1', '[::1]', '127.0.0.1', 'localhost'])('accepts %s', async (host) => {
    const r = await rdsIam(['token', '--host', host, '--port', '5432', '--user', 'u'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
  it.each(['[::1]:5432', 'db.example.com:5432'])('refuses %s with a port in it', async (host) => {
    const r = await rdsIam(['token', '--host', host, '--user', 'u', '--engine', 'postgres'], {
      env,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pass the port in --port/);
  });
});
