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
