import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, rdsCaCertificates } from '../src/tls.js';

describe('rdsCaCertificates', () => {
  const bundle = rdsCaCertificates();
  const certificates = bundle.map((pem) => new X509Certificate(pem));
  const commonNames = certificates.map((c) => /CN=([^\n]+)/.exec(c.subject)?.[1] ?? '');

  it('is a non-empty list of single PEM certificates', () => {
    expect(bundle.length).toBeGreaterThan(10);
    for (const pem of bundle) {
      expect(pem).toMatch(
        /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/,
      );
      expect(pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    }
  });

  it('holds only CA certificates', () => {
    for (const certificate of certificates) expect(certificate.ca).toBe(true);
  });

  it('contains the RDS roots', () => {
    expect(certificates.some((c) => c.subject.includes('Amazon RDS'))).toBe(true);
    expect(commonNames).toContain('Amazon RDS us-east-1 Root CA RSA2048 G1');
    expect(commonNames.filter((cn) => /^Amazon RDS .* Root CA/.test(cn)).length).toBeGreaterThan(
      20,
    );
  });

  it('contains the Amazon Root CAs that RDS Proxy chains to', () => {
    for (const n of [1, 2, 3, 4]) expect(commonNames).toContain(`Amazon Root CA ${n}`);
    expect(commonNames).toContain('Starfield Services Root Certificate Authority - G2');
  });

  it('has no duplicates', () => {
    const fingerprints = certificates.map((c) => c.fingerprint256);
    expect(new Set(fingerprints).size).toBe(fingerprints.length);
    expect(new Set(bundle).size).toBe(bundle.length);
  });

  it('returns the same frozen array on every call', () => {
    expect(rdsCaCertificates()).toBe(bundle);
    expect(Object.isFrozen(bundle)).toBe(true);
    expect(() => (bundle as string[]).push('x')).toThrow(TypeError);
  });

  // Checked against the X509 subjects, which the filter itself does not parse.
  const regionOf = (cn: string) =>
    /^Amazon RDS (?:Beta |Preview )?([a-z]{2}(?:-[a-z]+)+-\d+) /.exec(cn)?.[1];

  it.each(['us-east-1', 'eu-west-1', 'ap-southeast-2', 'sa-east-1'])(
    "with a region (%s): that region's CAs and the ones that name no region, nothing else",
    (region) => {
      const list = rdsCaCertificates(region);
      const names = list.map(
        (pem) => /CN=([^\n]+)/.exec(new X509Certificate(pem).subject)?.[1] ?? '',
      );
      // Every family the bundle has for the region, and every region-less root (RDS Proxy's too).
      const expected = commonNames.filter((cn) => [region, undefined].includes(regionOf(cn)));
      expect([...names].sort()).toEqual([...expected].sort());
      expect(names).toContain(`Amazon RDS ${region} Root CA RSA2048 G1`);
      expect(names).toContain(`Amazon RDS ${region} Root CA ECC384 G1`);
      expect(names).toContain('Amazon Root CA 1');
      expect(names).toContain('Amazon RDS Root 2019 CA');
      expect(list.length).toBeLessThan(bundle.length / 4);
      expect(list.every((pem) => bundle.includes(pem))).toBe(true);
    },
  );

  it('gives a region no CA names (newer than the installed bundle) the whole bundle', () => {
    expect(rdsCaCertificates('xx-nowhere-9')).toEqual(bundle);
    // A prefix of a real region is not that region.
    expect(rdsCaCertificates('us-east-10')).toEqual(bundle);
  });

  it('returns the same frozen array for a region on every call', () => {
    const list = rdsCaCertificates('eu-central-1');
    expect(rdsCaCertificates('eu-central-1')).toBe(list);
    expect(Object.isFrozen(list)).toBe(true);
  });
});

describe('isLoopbackHost', () => {
  const loopback = [
    'localhost',
    'LOCALHOST',
    'Localhost',
    '127.0.0.1',
    '127.0.0.53',
    '127.255.255.254',
    '127.1.2.3',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '0000:0000:0000:0000:0000:0000:0000:0001',
    '[0:0::1]',
    '::ffff:127.0.0.1',
    '[::ffff:127.0.0.1]',
    '::FFFF:127.10.20.30',
    '::ffff:7f00:1',
  ];
  const notLoopback = [
    '',
    ' localhost',
    'localhost.',
    'localhost:5432',
    'db.localhost',
    'localhost.example.com',
    'mylocalhost',
    '0.0.0.0',
    '10.0.0.1',
    '128.0.0.1',
    '126.255.255.255',
    '127.0.0',
    '127.1',
    '127.0.0.1.',
    '127.0.0.256',
    '0177.0.0.1',
    '127.000.000.001',
    '127.0.0.1:5432',
    '::',
    '::2',
    '[::1',
    '::1]',
    '[::1]:5432',
    '::1%lo',
    '::127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:128.0.0.1',
    '2001:db8::1',
    'fe80::1',
    'mydb.c9akciq32xyz.us-east-1.rds.amazonaws.com',
    'http://localhost',
  ];

  it.each(loopback)('accepts %s', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each(notLoopback)('refuses %j', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });

  it.each([null, undefined, 127, {}])('refuses the non-string %j', (host) => {
    expect(isLoopbackHost(host as unknown as string)).toBe(false);
  });
});
