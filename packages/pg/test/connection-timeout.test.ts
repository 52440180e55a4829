import { once } from 'node:events';
import net from 'node:net';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createPool,
  DEFAULT_CONNECTION_TIMEOUT_MS,
  parseConnectionString,
  pgIamConfig,
  pgIamDriver,
} from '../src/index.js';

// node-postgres waits for ever by default; rds-iam bounds every wait, so its configs carry a
// connection timeout unless the caller chose one (0 included).
const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'secret' };

describe('connectionTimeoutMillis', () => {
  it('defaults to 30 s; a value given, 0 included, is kept; a URL connect_timeout counts', () => {
    expect(DEFAULT_CONNECTION_TIMEOUT_MS).toBe(30_000);
    const timeout = (o: object) =>
      pgIamConfig({ host: HOST, user: 'app', credentials, ...o }).connectionTimeoutMillis;
    expect(timeout({})).toBe(DEFAULT_CONNECTION_TIMEOUT_MS);
    expect(timeout({ connectionTimeoutMillis: undefined })).toBe(DEFAULT_CONNECTION_TIMEOUT_MS);
    expect(timeout({ connectionTimeoutMillis: 0 })).toBe(0);
    expect(timeout({ connectionTimeoutMillis: 4_000 })).toBe(4_000);
    const url = `postgres://app@${HOST}/app?connect_timeout=7`;
    expect(timeout({ connectionString: url })).toBe(7_000);
    expect(timeout({ connectionString: url, connectionTimeoutMillis: 2_000 })).toBe(2_000);
    expect(timeout({ connectionString: `postgres://app@${HOST}/app?connect_timeout=0` })).toBe(0);
  });

  it('refuses a connect_timeout that is not whole seconds, saying how to write it', () => {
    for (const bad of ['-1', '2.5', 'ten', '']) {
      expect(() =>
        parseConnectionString(`postgres://app@${HOST}/app?connect_timeout=${bad}`),
      ).toThrow(
        expect.objectContaining({
          code: 'ERR_INVALID_OPTION',
          message: expect.stringMatching(/whole seconds/),
        }),
      );
    }
  });

  it("pgIamDriver's Pool gets the bound when the caller's options leave it undefined (TypeORM)", async () => {
    const { config, driver } = pgIamDriver({ host: HOST, user: 'app', credentials });
    // TypeORM's PostgresDriver: `connectionTimeoutMillis: options.connectTimeoutMS`, then `extra`.
    const typeorm = new driver.Pool({ ...config, connectionTimeoutMillis: undefined });
    const chosen = new driver.Pool({ ...config, connectionTimeoutMillis: 1_500 });
    const options = (p: pg.Pool) => (p as unknown as { options: pg.PoolConfig }).options;
    expect(options(typeorm).connectionTimeoutMillis).toBe(DEFAULT_CONNECTION_TIMEOUT_MS);
    expect(options(chosen).connectionTimeoutMillis).toBe(1_500);
    await Promise.all([typeorm.end(), chosen.end()]);
  });

  describe('against a server that accepts the connection and never answers', () => {
    let server: net.Server;
    const sockets = new Set<net.Socket>();
    beforeAll(async () => {
      server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
    });
    afterEach(() => {
      vi.useRealTimers();
      for (const socket of sockets) socket.destroy();
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('a query with the default fails after 30 s, not before, with no token in the error', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const pool = createPool({
        host: '127.0.0.1',
        port: (server.address() as net.AddressInfo).port,
        user: 'app',
        signingHost: HOST,
        credentials,
        sign: async () => 'not-a-real-token',
      });
      let settled = false;
      const query = pool.query('SELECT 1').finally(() => {
        settled = true;
      });
      query.catch(() => {});
      await vi.waitFor(() => expect(sockets.size).toBe(1), { interval: 5, timeout: 5_000 });
      await vi.advanceTimersByTimeAsync(DEFAULT_CONNECTION_TIMEOUT_MS - 100);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(200);
      await expect(query).rejects.toThrow(/timeout/i);
      await expect(query).rejects.not.toThrow(/not-a-real-token/);
      await pool.end();
    });
  });
});
