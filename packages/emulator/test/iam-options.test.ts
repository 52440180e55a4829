import { createTokenProvider } from '@rds-iam/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CREDENTIALS, type Emulator, startEmulator } from '../src/index.js';
import { adminQuery, createRole, dropRole, PG_UPSTREAM } from './helpers.js';

const OTHER_KEY = {
  accessKeyId: 'AKIAIAMOPTIONS000002',
  secretAccessKey: 'iam-options-test-secret-0000000000000000',
  sessionToken: 'iam-options-session-token',
};

describe('emulator.iamOptions()', () => {
  let emulator: Emulator;
  let user: string;
  beforeAll(async () => {
    // An IAM user as on RDS, so that the login also passes an emulator that requires the grant.
    await adminQuery(
      `DO $$BEGIN CREATE ROLE rds_iam NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$`,
    );
    user = await createRole('iamopts');
    await adminQuery(`GRANT rds_iam TO ${user}`);
    emulator = await startEmulator({
      engine: 'postgres',
      upstream: { ...PG_UPSTREAM },
      endpoint: { host: 'iamopts.cluster-c0ffee123456.eu-west-1.rds.amazonaws.com', port: 5432 },
      region: 'eu-west-1',
    });
  });
  afterAll(async () => {
    await emulator?.stop();
    if (user) await dropRole(user);
  });

  it('names the endpoint, region, first accepted key and CA', () => {
    expect(emulator.iamOptions()).toEqual({
      signingHost: 'iamopts.cluster-c0ffee123456.eu-west-1.rds.amazonaws.com',
      signingPort: 5432,
      region: 'eu-west-1',
      credentials: {
        accessKeyId: DEMO_CREDENTIALS.accessKeyId,
        secretAccessKey: DEMO_CREDENTIALS.secretAccessKey,
      },
      ssl: { ca: emulator.caPem },
    });
  });

  it('is all a token provider and a pg client need to log in over verified TLS', async () => {
    emulator.addCredentials(OTHER_KEY);
    const options = emulator.iamOptions(OTHER_KEY.accessKeyId);
    expect(options.credentials).toEqual(OTHER_KEY);
    const { ssl, ...iam } = options;
    const tokens = createTokenProvider({ host: emulator.host, port: emulator.port, user, ...iam });
    const client = new pg.Client({
      host: emulator.host,
      port: emulator.port,
      user,
      database: 'postgres',
      password: () => tokens.getToken(),
      ssl: { ...ssl, servername: options.signingHost },
    });
    const before = emulator.counters().accepted;
    try {
      await client.connect();
      const { rows } = await client.query('SELECT current_user AS who');
      expect(rows[0]?.who).toBe(user);
    } finally {
      await client.end();
      tokens.close();
    }
    expect(emulator.counters().accepted).toBe(before + 1);
  });

  it('a key the emulator does not accept is a TypeError that says how to add it', () => {
    expect(() => emulator.iamOptions('AKIANOTACCEPTED00001')).toThrow(
      /does not accept the access key "AKIANOTACCEPTED00001": add it with addCredentials\(\)/,
    );
  });
});
