import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildHandshakeResponse,
  Capability,
  cachingSha2Auth,
  frame,
  type MysqlPacket,
  PacketReader,
  parseErrPacket,
  parseGreeting,
} from '@rds-iam/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminQuery,
  createIamUser,
  exampleEnv,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  startIamEndpoint,
} from '../harness/index.js';

// `prisma migrate deploy` on MySQL / MariaDB with IAM, through a prisma.config.ts that starts the
// proxy (examples/proxy-prisma-mysql). Prisma's schema engine is a native binary that the CLI
// downloads on first use from Prisma's own host, not from the npm registry, so it cannot run on a
// machine without that host; this file runs the example's config for real and then logs in to the
// proxy it started exactly as the schema engine's MySQL driver (mysql_async) does, with its
// capability flags and its auth plugins, and applies the example's migration over that session.

const example = fileURLToPath(new URL('../../examples/proxy-prisma-mysql/', import.meta.url));

/** The capability flags mysql_async sends: its fixed set, plus CONNECT_WITH_DB for a database. */
const SCHEMA_ENGINE_FLAGS =
  Capability.PROTOCOL_41 |
  Capability.SECURE_CONNECTION |
  Capability.LONG_PASSWORD |
  Capability.TRANSACTIONS |
  Capability.LOCAL_FILES |
  Capability.MULTI_STATEMENTS |
  Capability.MULTI_RESULTS |
  Capability.PS_MULTI_RESULTS |
  Capability.PLUGIN_AUTH |
  Capability.CONNECT_ATTRS |
  Capability.CONNECT_WITH_DB;

/** Logs in as the schema engine does: the greeting's plugin (or caching_sha2), no password. */
async function schemaEngineLogin(
  url: string,
  plugin: 'mysql_native_password' | 'caching_sha2_password',
): Promise<{ socket: net.Socket; reader: PacketReader; first: MysqlPacket }> {
  const { hostname, port, username, pathname } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port) });
  const reader = new PacketReader(socket, 1 << 24);
  const greeting = parseGreeting((await reader.read(5_000)).payload);
  expect(greeting.capabilities & Capability.SSL).toBe(0); // loopback: nothing to negotiate
  const capabilities = (SCHEMA_ENGINE_FLAGS & greeting.capabilities) >>> 0;
  const attrs = Buffer.from('\x0c_client_name\x0bmysql_async', 'latin1');
  socket.write(
    frame(
      1,
      buildHandshakeResponse({
        capabilities,
        mariaDbCapabilities: 0,
        maxPacketSize: 1 << 24,
        charset: 45,
        user: decodeURIComponent(username),
        // An empty password: nothing for mysql_native_password, a scramble for caching_sha2.
        authData:
          plugin === 'mysql_native_password'
            ? Buffer.alloc(0)
            : cachingSha2Auth('x', greeting.scramble),
        database: Buffer.from(pathname.slice(1)),
        authPlugin: plugin,
        connectAttrs: attrs,
      }),
    ),
  );
  return { socket, reader, first: await reader.read(5_000) };
}

async function query(socket: net.Socket, reader: PacketReader, sql: string): Promise<Buffer> {
  socket.write(frame(0, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, 'utf8')])));
  return (await reader.read(5_000)).payload;
}

describe.runIf(hasDatabase('mysql'))(
  'proxy: Prisma migrate on MySQL through prisma.config.ts',
  () => {
    let iam: IamEndpoint;
    let app: IamUser;
    let child: ChildProcess | undefined;
    const work = mkdtempSync(join(tmpdir(), 'rds-iam-proxy-prisma-'));
    beforeAll(async () => {
      iam = await startIamEndpoint('mysql');
      app = await createIamUser('mysql', { database: true });
    });
    afterAll(async () => {
      child?.kill('SIGKILL');
      await iam?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    it('the config starts the proxy; the schema engine logs in with a plain login and migrates', async () => {
      const caFile = join(work, 'ca.pem');
      writeFileSync(caFile, iam.ca);
      // What the Prisma CLI does first: evaluate prisma.config.ts, then hand datasource.url to the
      // engine. stdin keeps the process (and its unref'd proxy) alive for the test.
      child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          "const { default: c } = await import('./prisma.config.ts'); console.log(JSON.stringify({ url: c.datasource.url })); process.stdin.resume(); process.stdin.on('end', () => {});",
        ],
        {
          cwd: example,
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            ...exampleEnv(iam, app, caFile),
          },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      const stderr: string[] = [];
      child.stderr?.on('data', (b: Buffer) => stderr.push(b.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child?.stdout?.on('data', (b: Buffer) => {
          out += b.toString();
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve((JSON.parse(line) as { url: string }).url);
        });
        child?.once('exit', (code) =>
          reject(new Error(`config exited ${code}: ${stderr.join('')}`)),
        );
      });
      expect(url).toMatch(new RegExp(`^mysql://${app.user}@127\\.0\\.0\\.1:\\d+/${app.database}$`));

      // The engine's login: the proxy answers it itself (OK, not a switch to mysql_clear_password,
      // which the engine cannot answer), after its own login upstream with a token.
      const native = await schemaEngineLogin(url, 'mysql_native_password');
      expect(native.first.payload[0]).toBe(0x00);
      const migration = readFileSync(
        join(example, 'prisma/migrations/20260101000000_create_notes/migration.sql'),
        'utf8',
      );
      const created = await query(native.socket, native.reader, migration);
      expect(created[0], created[0] === 0xff ? parseErrPacket(created).message : '').toBe(0x00);
      native.socket.destroy();

      // A MySQL 8 greeting makes the engine answer with caching_sha2_password: the proxy takes that
      // too.
      const sha2 = await schemaEngineLogin(url, 'caching_sha2_password');
      expect(sha2.first.payload[0]).toBe(0x00);
      const inserted = await query(
        sha2.socket,
        sha2.reader,
        `INSERT INTO proxy_notes (body) VALUES ('migrated through the proxy')`,
      );
      expect(inserted[0]).toBe(0x00);
      sha2.socket.destroy();

      const rows = await adminQuery(
        iam.database,
        `SELECT body FROM \`${app.database}\`.proxy_notes`,
      );
      expect(rows).toEqual([{ body: 'migrated through the proxy' }]);
      expect(iam.emulator.counters().accepted).toBeGreaterThanOrEqual(2);

      // With its work done, the CLI's process ends: the proxy does not hold it.
      const exited = new Promise<number | null>((r) => child?.once('exit', r));
      child.stdin?.end();
      expect(await exited).toBe(0);
      child = undefined;
    });
  },
);
