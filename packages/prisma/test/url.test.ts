import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { RdsIamError, rdsCaCertificates } from '@rds-iam/core';
import { afterAll, describe, expect, it } from 'vitest';
import { iamDatabaseUrl } from '../src/index.js';
import { anchorOf } from '../src/tls-probe.js';

const HOST = 'mydb.abc123xyz.eu-west-1.rds.amazonaws.com';
/** A token full of characters a URL must escape, and the real token's own %-escapes. */
const TRICKY = `${HOST}:5432/?Action=connect&DBUser=app&X-Amz-Credential=AKIA%2F20240101%2Fus-east-1&X=@:/?#[]!$'()*+,;= %25ü`;
const SIGNATURE = 'f'.repeat(64);
const sign = ({ signingDate }: { signingDate: Date }) => ({
  token: TRICKY,
  expiresAt: signingDate.getTime() + 900_000,
});

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function caFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rds-iam-test-'));
  scratch.push(dir);
  const file = join(dir, 'ca.pem');
  writeFileSync(file, rdsCaCertificates()[0] ?? '');
  return file;
}

describe('iamDatabaseUrl', () => {
  it('puts the token in the URL so that parsing it back gives the token, byte for byte', async () => {
    const file = caFile();
    for (const engine of ['postgres', 'mysql'] as const) {
      const url = await iamDatabaseUrl({
        engine,
        host: HOST,
        user: 'app user',
        database: 'orders/2024',
        sign,
        ssl: { caFile: file },
      });
      const parsed = new URL(url);
      expect(decodeURIComponent(parsed.password)).toBe(TRICKY);
      expect(decodeURIComponent(parsed.username)).toBe('app user');
      expect(decodeURIComponent(parsed.pathname.slice(1))).toBe('orders/2024');
      expect(parsed.hostname).toBe(HOST);
      expect(parsed.port).toBe(engine === 'postgres' ? '5432' : '3306');
      expect(parsed.searchParams.get('sslcert')).toBe(file);
      expect(parsed.searchParams.get('sslaccept')).toBe('strict');
      expect(parsed.searchParams.get('sslmode')).toBe(engine === 'postgres' ? 'require' : null);
      expect(parsed.protocol).toBe(engine === 'postgres' ? 'postgresql:' : 'mysql:');
    }
  });

  it('turns TLS off only towards loopback, in each engine’s terms', async () => {
    const pgUrl = new URL(
      await iamDatabaseUrl({
        engine: 'postgres',
        host: '127.0.0.1',
        port: 6543,
        user: 'app',
        region: 'us-east-1',
        sign,
        ssl: false,
      }),
    );
    expect(Object.fromEntries(pgUrl.searchParams)).toEqual({ sslmode: 'disable' });
    const myUrl = new URL(
      await iamDatabaseUrl({
        engine: 'mysql',
        host: '::1',
        user: 'app',
        region: 'us-east-1',
        sign,
        ssl: false,
      }),
    );
    expect(myUrl.hostname).toBe('[::1]');
    expect([...myUrl.searchParams]).toEqual([]);
    await expect(
      iamDatabaseUrl({ engine: 'postgres', host: HOST, user: 'app', sign, ssl: false }),
    ).rejects.toMatchObject({ code: 'ERR_TLS_REQUIRED' });
  });

  it('passes extra engine parameters through and refuses the ones it owns', async () => {
    const url = new URL(
      await iamDatabaseUrl({
        engine: 'postgres',
        host: HOST,
        user: 'app',
        sign,
        ssl: { caFile: caFile() },
        params: { schema: 'billing', connection_limit: 2, pgbouncer: true },
      }),
    );
    expect(url.searchParams.get('schema')).toBe('billing');
    expect(url.searchParams.get('connection_limit')).toBe('2');
    expect(url.searchParams.get('pgbouncer')).toBe('true');
    for (const key of ['sslmode', 'sslaccept', 'SSLCERT', 'password']) {
      await expect(
        iamDatabaseUrl({
          engine: 'postgres',
          host: HOST,
          user: 'app',
          sign,
          params: { [key]: 'x' },
        }),
      ).rejects.toMatchObject({ code: 'ERR_CONFLICTING_OPTIONS' });
    }
  });

  it('reports bad options and failed mints as RdsIamErrors without token text', async () => {
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: RdsIamError) => e.code,
      );
    expect(
      await codeOf(iamDatabaseUrl({ engine: 'oracle' as never, host: HOST, user: 'app' })),
    ).toBe('ERR_INVALID_OPTION');
    expect(await codeOf(iamDatabaseUrl({ engine: 'mysql', host: HOST, user: '' }))).toBe(
      'ERR_INVALID_USER',
    );
    expect(
      await codeOf(
        iamDatabaseUrl({ engine: 'mysql', host: HOST, user: 'app', ssl: { ca: 'not a pem' } }),
      ),
    ).toBe('ERR_INVALID_OPTION');
    const failing = await iamDatabaseUrl({
      engine: 'postgres',
      host: HOST,
      user: 'app',
      ssl: { caFile: caFile() },
      sign: () => {
        throw new Error(`signer leaked ${HOST}:5432/?Action=connect&X-Amz-Signature=${SIGNATURE}`);
      },
    }).catch((e: unknown) => e);
    expect(failing).toBeInstanceOf(RdsIamError);
    expect((failing as RdsIamError).code).toBe('ERR_SIGNING');
    expect((failing as RdsIamError).message).toContain('signer leaked');
    expect(String((failing as RdsIamError).stack)).not.toContain(SIGNATURE);
    expect((failing as RdsIamError).message).not.toContain(SIGNATURE);
  });
});

describe('anchorOf', () => {
  it('picks the CA of the list that the chain ends in, root first', () => {
    const cas = rdsCaCertificates();
    const der = (pem: string) => Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const chain = [
      { raw: Buffer.from('leaf') },
      { raw: der(cas[3] ?? '') },
      { raw: der(cas[5] ?? '') },
    ] as unknown as PeerCertificate[];
    expect(anchorOf(chain, cas)).toBe(cas[5]);
    expect(anchorOf(chain.slice(0, 2), cas)).toBe(cas[3]);
    expect(anchorOf(chain.slice(0, 1), cas)).toBeUndefined();
  });
});
