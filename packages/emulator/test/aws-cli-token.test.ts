import { createHash, createHmac } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createVerifier, DEMO_CREDENTIALS, startEmulator } from '../src/index.js';
import { PG_UPSTREAM } from './helpers.js';

/**
 * Tokens made by the real AWS CLI (not by our signer), with the demo key and the host typed in
 * capitals as in the seed walk-through:
 *
 *   AWS_ACCESS_KEY_ID=AKIAEMULATORDEMO0001 AWS_SECRET_ACCESS_KEY=emulator/demo/secret/NOT+A+REAL+AWS+KEY+0001 \
 *   aws rds generate-db-auth-token --hostname RDS-AUTH-DEMO.abc123xyz.eu-west-1.rds.amazonaws.com \
 *     --port 5432 --region eu-west-1 --username demo_user
 *
 * botocore signs the host lowercased (SigV4 canonical host) while the token keeps it as typed.
 *
 * No signed token is kept here: each fixture is the CLI's output up to its signature, byte for byte,
 * and the SHA-256 of the signature it printed. The test signs that text again with the SigV4 steps
 * written out below (botocore's canonical form, not our signer), checks that the result hashes to
 * what the CLI printed, and only then uses the token.
 */
const HOST = 'RDS-AUTH-DEMO.abc123xyz.eu-west-1.rds.amazonaws.com';
const FIXTURES = {
  // aws-cli/1.45.11 botocore/1.43.11
  postgres: {
    signedAt: Date.UTC(2026, 11, 5, 15, 13, 31),
    unsigned: `${HOST}:5432/?Action=connect&DBUser=demo_user&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEMULATORDEMO0001%2F20261205%2Feu-west-1%2Frds-db%2Faws4_request&X-Amz-Date=20261205T151331Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host`,
    signatureSha256: 'd935b8d7f8683284a46f150431bee684d126fb71634d2ce6b85965f27a8c6401',
  },
  // aws-cli/2.9.19
  mysql: {
    signedAt: Date.UTC(2026, 11, 5, 15, 13, 36),
    unsigned: `${HOST}:3306/?Action=connect&DBUser=demo_user&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEMULATORDEMO0001%2F20261205%2Feu-west-1%2Frds-db%2Faws4_request&X-Amz-Date=20261205T151336Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host`,
    signatureSha256: '515e9723855486915a9132f39b83c68669e8ce5f2f839a81b6ec33fd9d6b3ed7',
  },
} as const;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * `unsigned` signed as botocore signs a presigned rds-db URL: canonical request with the host
 * lowercased and the empty payload's hash, then the SigV4 key chain over date, region and service.
 */
function botocoreSignature(unsigned: string): string {
  const [hostPort = '', query = ''] = unsigned.split('/?');
  const date = /X-Amz-Date=(\d{8}T\d{6}Z)/.exec(query)?.[1] ?? '';
  const scope = `${date.slice(0, 8)}/eu-west-1/rds-db/aws4_request`;
  const canonical = ['GET', '/', query, `host:${hostPort.toLowerCase()}`, '', 'host', sha256('')];
  const toSign = ['AWS4-HMAC-SHA256', date, scope, sha256(canonical.join('\n'))].join('\n');
  let key: Buffer = Buffer.from(`AWS4${DEMO_CREDENTIALS.secretAccessKey}`);
  for (const part of scope.split('/')) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(toSign).digest('hex');
}

/** The CLI's token, rebuilt: throws unless the signature is the very one the CLI printed. */
function cliToken(engine: keyof typeof FIXTURES): { signedAt: number; token: string } {
  const { signedAt, unsigned, signatureSha256 } = FIXTURES[engine];
  const signature = botocoreSignature(unsigned);
  expect(sha256(signature)).toBe(signatureSha256);
  return { signedAt, token: `${unsigned}&X-Amz-Signature=${signature}` };
}

describe('tokens made by the AWS CLI for a host typed in capitals', () => {
  it('verify: accepted for the endpoint in any case; one changed letter of the signature is refused', () => {
    for (const engine of ['postgres', 'mysql'] as const) {
      const { signedAt, token } = cliToken(engine);
      const port = engine === 'postgres' ? 5432 : 3306;
      for (const host of [HOST, HOST.toLowerCase()]) {
        const verify = createVerifier({
          region: 'eu-west-1',
          endpoint: { host, port },
          credentials: [DEMO_CREDENTIALS],
          now: () => signedAt + 60_000,
        });
        expect(verify(token, 'demo_user')).toEqual({
          ok: true,
          user: 'demo_user',
          accessKeyId: DEMO_CREDENTIALS.accessKeyId,
        });
        const altered = token.replace(
          /X-Amz-Signature=(.)/,
          (_, c: string) => `X-Amz-Signature=${c === 'a' ? 'b' : 'a'}`,
        );
        expect(verify(altered, 'demo_user')).toMatchObject({ ok: false, reason: 'bad-signature' });
      }
      const later = createVerifier({
        region: 'eu-west-1',
        endpoint: { host: HOST, port },
        credentials: [DEMO_CREDENTIALS],
        now: () => signedAt + 901_000,
      });
      expect(later(token, 'demo_user')).toMatchObject({ ok: false, reason: 'expired' });
    }
  });

  it('PostgreSQL: psql-style login through the emulator with its clock set to the token date', async () => {
    const { signedAt, token } = cliToken('postgres');
    const emu = await startEmulator({
      engine: 'postgres',
      // demo_user exists only in the token: upstream, the session is the superuser's.
      upstream: { ...PG_UPSTREAM, user: 'postgres' },
      endpoint: { host: HOST.toLowerCase(), port: 5432 },
      region: 'eu-west-1',
      clockOffsetMs: signedAt + 60_000 - Date.now(),
    });
    try {
      const c = new pg.Client({
        host: emu.host,
        port: emu.port,
        user: 'demo_user',
        database: 'postgres',
        password: token,
        ssl: { ca: emu.caPem, servername: HOST.toLowerCase() },
      });
      await c.connect();
      await c.end();
      expect(emu.counters()).toMatchObject({ accepted: 1, rejected: 0 });
    } finally {
      await emu.stop();
    }
  });

  it('MySQL: login through the emulator with its clock set to the token date', async () => {
    const { signedAt, token } = cliToken('mysql');
    const emu = await startEmulator({
      engine: 'mysql',
      upstream: 'mysql://root@127.0.0.1:3306',
      endpoint: { host: HOST, port: 3306 },
      region: 'eu-west-1',
      clockOffsetMs: signedAt + 60_000 - Date.now(),
    });
    try {
      const c = await mysql.createConnection({
        host: emu.host,
        port: emu.port,
        user: 'demo_user',
        password: token,
        ssl: { ca: emu.caPem },
        authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
      });
      await c.end();
      expect(emu.counters()).toMatchObject({ accepted: 1, rejected: 0 });
    } finally {
      await emu.stop();
    }
  });
});
