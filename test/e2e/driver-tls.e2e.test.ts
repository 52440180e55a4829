// TLS of @rds-iam/pg and @rds-iam/mysql2, end to end: verify-full by default, the CA passed as
// `ssl: { ca }`, hostname checks against the signing host, and plaintext only towards loopback when
// the user turns TLS off and the server allows it. In every refusal the token never leaves.
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import {
  createIamUser,
  hasDatabase,
  type IamEndpoint,
  startIamEndpoint,
} from '../harness/index.js';
import {
  type CommonPoolOptions,
  DRIVERS,
  type DriverPool,
  endpointOptions,
  eventLog,
  rejectionOf,
} from './driver-support.js';

/** An RDS hostname the emulator's certificate does not name. */
const OTHER_HOST = 'other-db.c0ffee654321.us-east-1.rds.amazonaws.com';

for (const driver of DRIVERS) {
  const { engine } = driver;

  describe.runIf(hasDatabase(engine))(`@rds-iam/${driver.name} TLS`, () => {
    let iam: IamEndpoint;
    let plaintext: IamEndpoint;
    let user: string;
    let database: string | undefined;
    const pools: DriverPool[] = [];
    const open = (options: CommonPoolOptions): DriverPool => {
      const pool = driver.createPool({ size: 1, ...options });
      pools.push(pool);
      return pool;
    };

    beforeAll(async () => {
      let app: Awaited<ReturnType<typeof createIamUser>>;
      [iam, plaintext, app] = await Promise.all([
        startIamEndpoint(engine),
        startIamEndpoint(engine, { emulator: { requireTls: false } }),
        createIamUser(engine),
      ]);
      user = app.user;
      database = app.database;
    });
    afterEach(async () => {
      await Promise.all(pools.splice(0).map((p) => p.end().catch(() => undefined)));
    });
    afterAll(async () => {
      await Promise.all([iam.stop(), plaintext.stop()]);
    });

    test('verify-full by default: a certificate from an unknown CA is refused with ERR_TLS_VERIFY, before any token', async () => {
      iam.emulator.resetCounters();
      const log = eventLog();
      const { ssl: _ownCa, ...withoutCa } = endpointOptions(iam, user, database);

      const err = await rejectionOf(open({ ...withoutCa, onEvent: log.onEvent }).query('SELECT 1'));

      expect(err).toMatchObject({ name: 'RdsIamError', code: 'ERR_TLS_VERIFY' });
      expect(err.message).toContain(`checked as '${iam.endpoint.host}'`);
      expect(err.message).toContain('pass its CA as `ssl: { ca }`');
      expect(log.minted()).toHaveLength(0);
      const counters = iam.emulator.counters();
      expect(counters.connectionsOpened).toBeGreaterThanOrEqual(1);
      expect(counters).toMatchObject({ accepted: 0, rejected: 0 });
    });

    test(`the emulator's CA given as ssl: { ca } is accepted, with the signing host's name checked`, async () => {
      iam.emulator.resetCounters();
      const pool = open(endpointOptions(iam, user, database));
      const held = await pool.acquire();
      expect(held.tls()).toBe(true);
      expect(Number((await held.query('SELECT 1 AS one')).one)).toBe(1);
      held.release();
      expect(iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
    });

    test('the connections of a pool share one TLS secure context: the CAs are parsed once', async () => {
      // Node parses the whole CA list into a context for every tls.connect not given one (about 20 ms
      // of CPU with every region's RDS CAs). pg hands our settings, with their shared context, to
      // tls.connect; mysql2 (3.24+) caches the one it builds from `ca`, and ours must not build
      // another that it never reads.
      const created = vi.spyOn(tls, 'createSecureContext');
      try {
        iam.emulator.resetCounters();
        const pool = open({ ...endpointOptions(iam, user, database), size: 4 });
        const held = await Promise.all([1, 2, 3, 4].map(() => pool.acquire()));
        for (const connection of held) {
          expect(connection.tls()).toBe(true);
          connection.release();
        }
        expect(iam.emulator.counters()).toMatchObject({ accepted: 4, rejected: 0 });
        expect(created).toHaveBeenCalledTimes(1);
      } finally {
        created.mockRestore();
      }
    });

    test('a certificate for another hostname (signingHost not in its names) is refused before the token is sent', async () => {
      iam.emulator.resetCounters();
      const log = eventLog();
      const err = await rejectionOf(
        open({
          ...endpointOptions(iam, user, database),
          signingHost: OTHER_HOST,
          onEvent: log.onEvent,
        }).query('SELECT 1'),
      );
      expect(err).toMatchObject({ name: 'RdsIamError', code: 'ERR_TLS_VERIFY' });
      expect(err.message).toContain(OTHER_HOST);
      // The server never saw a token: no verdict either way.
      expect(iam.emulator.counters()).toMatchObject({ accepted: 0, rejected: 0 });
      expect(log.minted()).toHaveLength(0);
    });

    test('ssl: false towards a host that is not loopback is refused before connecting', async () => {
      iam.emulator.resetCounters();
      // 0.0.0.0 is not loopback by name, yet on Linux a dial to it lands on 127.0.0.1 listeners:
      // exactly the host a plaintext check must not wave through.
      expect(() =>
        open({ ...endpointOptions(iam, user, database), host: '0.0.0.0', ssl: false }),
      ).toThrow(expect.objectContaining({ name: 'RdsIamError', code: 'ERR_TLS_REQUIRED' }));
      expect(iam.emulator.counters().connectionsOpened).toBe(0);

      // Control: the same address does reach the emulator when something dials it.
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect({ host: '0.0.0.0', port: iam.port }, () => {
          socket.destroy();
          resolve();
        });
        socket.on('error', reject);
      });
      await expect.poll(() => iam.emulator.counters().connectionsOpened).toBe(1);
    });

    test('ssl: false towards loopback works when the server allows plaintext', async () => {
      plaintext.emulator.resetCounters();
      const pool = open({ ...endpointOptions(plaintext, user, database), ssl: false });
      const held = await pool.acquire();
      expect(held.tls()).toBe(false);
      expect(Number((await held.query('SELECT 1 AS one')).one)).toBe(1);
      held.release();
      expect(plaintext.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
    });

    test('ssl: false when the server requires TLS: refused, and the token is never sent', async () => {
      iam.emulator.resetCounters();
      const log = eventLog();
      const err = await rejectionOf(
        open({ ...endpointOptions(iam, user, database), ssl: false, onEvent: log.onEvent }).query(
          'SELECT 1',
        ),
      );
      // An RdsIamError that says what to change, with the server's own words (RDS's: 3159 before the
      // auth switch for MySQL, pg_hba.conf's "no encryption" for PostgreSQL), and no retry.
      expect(err).toMatchObject({ code: 'ERR_TLS_REQUIRED' });
      expect(err.message).toMatch(/remove `ssl: false`/);
      if (engine === 'mysql') {
        expect(err.cause).toMatchObject({ errno: 3159 });
        expect(err.message).toMatch(/insecure transport are prohibited/);
      } else {
        expect(err.message).toMatch(/no encryption/);
      }
      expect(iam.emulator.counters().rejected).toBe(1);
      // The password hook never ran: no token was minted or handed out.
      expect(log.events.filter((e) => e.type === 'minted' || e.type === 'hit')).toEqual([]);
      expect(iam.emulator.counters()).toMatchObject({ accepted: 0 });
      expect(iam.emulator.counters().rejectedByReason).toEqual({
        'tls-required': iam.emulator.counters().rejected,
      });
    });
  });
}
