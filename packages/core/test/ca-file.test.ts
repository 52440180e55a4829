import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { iamTls, rdsCaCertificates } from '../src/index.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';

describe('ssl: { caFile }', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rds-iam-core-ca-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pem = (rdsCaCertificates()[0] ?? '').trim();
  const file = join(dir, 'ca.pem');
  writeFileSync(file, `# a comment before it\n${pem}\n`);

  it('is read into ca, and the hostname is still checked against the signing host', () => {
    const tls = iamTls('127.0.0.1', HOST, { caFile: file });
    const ssl = tls.ssl as Exclude<typeof tls.ssl, false>;
    expect(ssl.ca).toEqual([pem]);
    expect('caFile' in ssl).toBe(false);
    expect(ssl.servername).toBe(HOST);
    expect(ssl.rejectUnauthorized).toBe(true);
    expect(tls.caRegion).toBeUndefined();
  });

  it('is resolved from the current directory, as fs resolves a relative path', () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const ssl = iamTls(HOST, HOST, { caFile: 'ca.pem' }).ssl as { ca?: unknown };
      expect(ssl.ca).toEqual([pem]);
    } finally {
      process.chdir(cwd);
    }
  });

  it('names the file and the directory when it cannot be read', () => {
    expect(() => iamTls(HOST, HOST, { caFile: 'nope/ca.pem' })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringContaining(`resolved from the current directory, ${process.cwd()}`),
      }),
    );
    expect(() => iamTls(HOST, HOST, { caFile: '' })).toThrow(/must be the path of a PEM file/);
  });
});
