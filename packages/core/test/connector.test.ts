import tls from 'node:tls';
import { describe, expect, it, vi } from 'vitest';
import {
  createIamConnector,
  iamTls,
  RdsIamError,
  rdsCaCertificates,
  splitIamOptions,
} from '../src/index.js';
import { countingSigner, fakeClock, STATIC_CREDENTIALS, secretsOf } from './helpers.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';

function connector(extra: Record<string, unknown> = {}) {
  const signer = countingSigner();
  const clock = fakeClock();
  const c = createIamConnector(
    {
      host: HOST,
      user: 'app',
      credentials: STATIC_CREDENTIALS,
      now: clock.now,
      sign: signer.sign,
      ...extra,
    },
    'postgres',
  );
  return { c, signer, clock };
}

const pgRejection = () =>
  Object.assign(new Error('PAM authentication failed for user "app"'), {
    code: '28P01',
    severity: 'FATAL',
  });

describe('iamTls', () => {
  it('verifies against the RDS CAs and the signing host by default', () => {
    const tls = iamTls('127.0.0.1', HOST, undefined);
    expect(tls.ssl).not.toBe(false);
    const ssl = tls.ssl as Exclude<typeof tls.ssl, false>;
    expect(ssl.rejectUnauthorized).toBe(true);
    expect(Array.isArray(ssl.ca) && ssl.ca.length).toBeGreaterThan(10);
    expect(ssl.servername).toBe(HOST);
    expect(tls.identity).toBe(HOST);
  });

  it('merges the user’s ssl over the default: their CA, our hostname check', () => {
    const tls = iamTls(HOST, HOST, { ca: 'PEM' });
    const ssl = tls.ssl as Exclude<typeof tls.ssl, false>;
    expect(ssl.ca).toBe('PEM');
    expect(ssl.servername).toBe(HOST);
    expect(typeof ssl.checkServerIdentity).toBe('function');
  });

  it('never sends an IP address as the TLS server name, yet checks the certificate against it', () => {
    const byName = (name: string) => ({ subject: { CN: name }, subjectaltname: `DNS:${name}` });
    const byAddress = (ip: string) => ({ subject: { CN: ip }, subjectaltname: `IP Address:${ip}` });
    // An IP signing host (a local endpoint): no name to send or check.
    for (const tls of [iamTls('127.0.0.1', '127.0.0.1', undefined), iamTls(HOST, '10.0.0.5', {})]) {
      expect(tls.ssl).not.toHaveProperty('servername');
      expect(tls.sharedSsl).not.toHaveProperty('servername');
    }
    // The caller's own `servername`, an address: not sent (Node: DEP0123; Bun, Deno: an error),
    // still verified.
    const own = iamTls('127.0.0.1', HOST, { ca: 'PEM', servername: '10.0.0.5' });
    const ssl = own.ssl as Exclude<typeof own.ssl, false>;
    expect(ssl).not.toHaveProperty('servername');
    expect(own.sharedSsl).not.toHaveProperty('servername');
    expect(own.identity).toBe('10.0.0.5');
    const check = ssl.checkServerIdentity as NonNullable<typeof ssl.checkServerIdentity>;
    expect(check('ignored', byAddress('10.0.0.5') as never)).toBeUndefined();
    expect(check('ignored', byName(HOST) as never)).toBeInstanceOf(Error);
    // A name stays the name sent and checked.
    const named = iamTls('127.0.0.1', HOST, { servername: 'alias.example.com' });
    expect(named.ssl).toMatchObject({ servername: 'alias.example.com' });
  });

  it('refuses ssl: false towards a host that is not loopback, allows it for loopback', () => {
    expect(() => iamTls(HOST, HOST, false)).toThrow(
      expect.objectContaining({
        code: 'ERR_TLS_REQUIRED',
        message: expect.stringMatching(/cleartext.*loopback/),
      }),
    );
    expect(() => iamTls('10.0.0.5', HOST, false)).toThrow(RdsIamError);
    expect(iamTls('127.0.0.1', HOST, false).ssl).toBe(false);
    expect(iamTls('localhost', HOST, false).ssl).toBe(false);
  });

  it('assertSecure refuses a socket that is not encrypted or not authorized', () => {
    const tls = iamTls(HOST, HOST, undefined);
    expect(() => tls.assertSecure({ encrypted: false })).toThrow(
      expect.objectContaining({ code: 'ERR_TLS_REQUIRED' }),
    );
    expect(() => tls.assertSecure({ encrypted: true, authorized: false })).toThrow(
      expect.objectContaining({
        code: 'ERR_TLS_VERIFY',
        message: expect.stringMatching(/ssl: \{ ca \}/),
      }),
    );
  });
});

describe('iamTls: which CAs, and one secure context per pool', () => {
  const sslOf = (c: { tls: { ssl: tls.ConnectionOptions | false } }) =>
    c.tls.ssl as tls.ConnectionOptions;

  it("an RDS endpoint verifies against its own region's CAs only", () => {
    const { c } = connector({ host: 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com' });
    expect(sslOf(c).ca).toEqual([...rdsCaCertificates('eu-west-1')]);
    expect((sslOf(c).ca as string[]).length).toBeLessThan(rdsCaCertificates().length / 4);
    expect(c.tls.caRegion).toBe('eu-west-1');
  });

  it('a tunnel to an RDS endpoint takes the region from signingHost, or from `region`', () => {
    const tunnel = connector({ host: '127.0.0.1', signingHost: HOST }).c;
    expect(sslOf(tunnel).ca).toEqual([...rdsCaCertificates('us-east-1')]);
    const alias = connector({ host: 'db.internal.example.com', region: 'ap-south-1' }).c;
    expect(sslOf(alias).ca).toEqual([...rdsCaCertificates('ap-south-1')]);
  });

  it("a name without a region, and no `region` option, keeps the whole bundle (AWS_REGION is not the database's)", () => {
    vi.stubEnv('AWS_REGION', 'eu-north-1');
    try {
      const { c } = connector({ host: 'db.internal.example.com' });
      expect(sslOf(c).ca).toEqual([...rdsCaCertificates()]);
      expect(c.tls.caRegion).toBeUndefined();
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("the caller's own ca replaces the bundle, and a failed check does not blame the region", () => {
    const { c } = connector({ ssl: { ca: 'PEM' } });
    expect(sslOf(c).ca).toBe('PEM');
    expect(c.tls.caRegion).toBeUndefined();
    expect(() => c.tls.assertSecure({ encrypted: true, authorized: false })).toThrow(
      expect.objectContaining({ message: expect.not.stringMatching(/of their region/) }),
    );
    const own = connector().c;
    expect(() => own.tls.assertSecure({ encrypted: true, authorized: false })).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(/of their region \(here us-east-1/),
      }),
    );
  });

  it('sharedSsl: one secure context for every connection, built at the first, from the settings', () => {
    const created = vi.spyOn(tls, 'createSecureContext');
    try {
      const { c } = connector();
      const shared = c.tls.sharedSsl as tls.ConnectionOptions;
      expect(created).not.toHaveBeenCalled();
      // What pg does for each new connection, and what the spreads before tls.connect do.
      const first = Object.assign({}, shared).secureContext;
      const second = { ...shared }.secureContext;
      expect(first).toBeDefined();
      expect(second).toBe(first);
      expect(created).toHaveBeenCalledTimes(1);
      expect(created.mock.calls[0]?.[0]?.ca).toEqual([...rdsCaCertificates('us-east-1')]);
      expect(first).toBe(created.mock.results[0]?.value);
      expect({ ...shared, secureContext: undefined }).toEqual({
        ...sslOf(c),
        secureContext: undefined,
      });
    } finally {
      created.mockRestore();
    }
  });

  it('ssl, the settings ORMs get, carries no secure context: a deep copy of one crashes Node', () => {
    const { c } = connector();
    expect(Object.keys(sslOf(c))).not.toContain('secureContext');
  });

  it("keeps a caller's own secureContext", () => {
    const own = tls.createSecureContext({});
    const { c } = connector({ ssl: { secureContext: own } });
    expect(sslOf(c).secureContext).toBe(own);
    expect((c.tls.sharedSsl as tls.ConnectionOptions).secureContext).toBe(own);
    expect(c.tls.caRegion).toBeUndefined();
  });

  it('ssl: false towards loopback has no shared settings either', () => {
    const { c } = connector({ host: '127.0.0.1', signingHost: HOST, ssl: false });
    expect(c.tls.sharedSsl).toBe(false);
  });
});

describe('splitIamOptions', () => {
  it('keeps host, port and user for the driver and takes the core’s options out', () => {
    const { iam, rest } = splitIamOptions({
      host: 'h',
      port: 1,
      user: 'u',
      database: 'd',
      region: 'us-east-1',
      max: 5,
    });
    expect(iam).toEqual({ region: 'us-east-1' });
    expect(rest).toEqual({ host: 'h', port: 1, user: 'u', database: 'd', max: 5 });
  });
});

describe('connector.connect', () => {
  it('after one rejection drops the token and retries once with a new one', async () => {
    const { c, signer, clock } = connector();
    const seen: string[] = [];
    let attempts = 0;
    const result = await c.connect(async () => {
      attempts += 1;
      seen.push(await c.password());
      clock.advance(1000);
      if (attempts === 1) throw pgRejection();
      return 'connected';
    });
    expect(result).toBe('connected');
    expect(attempts).toBe(2);
    expect(signer.calls).toHaveLength(2);
    expect(seen[0]).not.toBe(seen[1]);
  });

  it('a server that rejects everything gets exactly one retry, then ERR_AUTH_REJECTED without token text', async () => {
    const { c, signer, clock } = connector();
    let attempts = 0;
    let token = '';
    const err = await c
      .connect(async () => {
        attempts += 1;
        token = await c.password();
        clock.advance(1000);
        throw Object.assign(pgRejection(), { detail: `password was ${token}` });
      })
      .catch((e: unknown) => e);
    expect(attempts).toBe(2);
    expect(signer.calls).toHaveLength(2);
    expect(err).toMatchObject({ code: 'ERR_AUTH_REJECTED' });
    expect((err as Error).message).toMatch(/rds-db:connect/);
    for (const secret of secretsOf(token))
      expect(JSON.stringify(err) + (err as Error).stack).not.toContain(secret);
  });

  it('other errors pass through untouched and are not retried', async () => {
    const { c } = connector();
    let attempts = 0;
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    await expect(
      c.connect(async () => {
        attempts += 1;
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(attempts).toBe(1);
  });

  it('a server refusing plaintext becomes ERR_TLS_REQUIRED at once: no retry, no new token', async () => {
    const { c, signer } = connector();
    let attempts = 0;
    const err = await c
      .connect(async () => {
        attempts += 1;
        throw Object.assign(
          new Error(
            'pg_hba.conf rejects connection for host "127.0.0.1", user "app", database "app", no encryption',
          ),
          { code: '28000', severity: 'FATAL' },
        );
      })
      .catch((e: unknown) => e);
    expect(attempts).toBe(1);
    expect(signer.calls).toHaveLength(0);
    expect(err).toMatchObject({ code: 'ERR_TLS_REQUIRED' });
    expect((err as Error).message).toMatch(/no encryption.*remove `ssl: false`/);
  });

  it('a certificate failure becomes ERR_TLS_VERIFY saying how to pass the CA', async () => {
    const { c } = connector();
    const err = await c
      .connect(async () => {
        throw Object.assign(new Error('self-signed certificate in certificate chain'), {
          code: 'SELF_SIGNED_CERT_IN_CHAIN',
        });
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_TLS_VERIFY' });
    expect((err as Error).message).toMatch(/pass its CA as `ssl: \{ ca \}`/);
  });
});
