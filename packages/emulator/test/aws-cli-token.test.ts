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
 */
const HOST = 'RDS-AUTH-DEMO.abc123xyz.eu-west-1.rds.amazonaws.com';
const FIXTURES = {
  // aws-cli/1.45.11 botocore/1.43.11
  postgres: {
    signedAt: Date.UTC(2026, 11, 5, 15, 13, 31),
    token: `${HOST}:5432/?Action=connect&DBUser=demo_user&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEMULATORDEMO0001%2F20261205%2Feu-west-1%2Frds-db%2Faws4_request&X-Amz-Date=20261205T151331Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=48d2d3ec662d1d523581e883a4aae58fb82d5deea54e1f52e1a406c91b6c927e`,
  },
  // aws-cli/2.9.19
  mysql: {
    signedAt: Date.UTC(2026, 11, 5, 15, 13, 36),
    token: `${HOST}:3306/?Action=connect&DBUser=demo_user&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEMULATORDEMO0001%2F20261205%2Feu-west-1%2Frds-db%2Faws4_request&X-Amz-Date=20261205T151336Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=834503e4fd86cc8f4dcd54676b5a88d5bc9767861486d029dbabea37d6a3099c`,
  },
} as const;

describe('tokens made by the AWS CLI for a host typed in capitals', () => {
  it('verify: accepted for the endpoint in any case; one changed letter of the signature is refused', () => {
    for (const [engine, { signedAt, token }] of Object.entries(FIXTURES)) {
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
    const { signedAt, token } = FIXTURES.postgres;
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
    const { signedAt, token } = FIXTURES.mysql;
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
