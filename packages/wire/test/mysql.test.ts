import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  authDataFor,
  buildGreeting,
  buildHandshakeResponse,
  Capability,
  ER_ACCESS_DENIED,
  errPacket,
  frame,
  loginMysql,
  nativePasswordAuth,
  PacketReader,
  parseGreeting,
  parseHandshakeResponse,
  readGreeting,
  relayedGreeting,
  scramble,
} from '../src/index.js';

const greeting = {
  serverVersion: '11.8.3-MariaDB',
  connectionId: 42,
  scramble: scramble(),
  capabilities:
    (Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH |
      Capability.COMPRESS |
      Capability.DEPRECATE_EOF) >>>
    0,
  mariaDbCapabilities: 0,
  charset: 45,
  statusFlags: 2,
  authPlugin: 'mysql_native_password',
};

describe('MySQL handshake packets', () => {
  it('a greeting survives build and parse', () => {
    expect(parseGreeting(buildGreeting(greeting))).toEqual(greeting);
  });

  it('a relayed greeting keeps the connection id and drops what the relay cannot carry', () => {
    const relayed = relayedGreeting(greeting, { tls: false, authPlugin: 'mysql_native_password' });
    expect(relayed.connectionId).toBe(42);
    expect(relayed.capabilities & Capability.COMPRESS).toBe(0);
    expect(relayed.capabilities & Capability.SSL).toBe(0);
    expect(relayed.capabilities & Capability.DEPRECATE_EOF).toBe(Capability.DEPRECATE_EOF);
    expect(relayed.scramble).not.toEqual(greeting.scramble);
  });

  it('a handshake response with a token-sized auth data survives build and parse', () => {
    const response = {
      capabilities:
        (Capability.PROTOCOL_41 |
          Capability.SECURE_CONNECTION |
          Capability.PLUGIN_AUTH |
          Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
          Capability.CONNECT_WITH_DB) >>>
        0,
      mariaDbCapabilities: 0,
      maxPacketSize: 1 << 24,
      charset: 45,
      user: 'app',
      authData: Buffer.alloc(1200, 0x61),
      database: Buffer.from('test'),
      authPlugin: 'mysql_clear_password',
      connectAttrs: undefined,
    };
    expect(parseHandshakeResponse(buildHandshakeResponse(response))).toEqual({
      kind: 'response',
      ...response,
    });
  });

  it('mysql_native_password is SHA1(pw) XOR SHA1(scramble, SHA1(SHA1(pw)))', () => {
    const s = Buffer.alloc(20, 7);
    const sha1 = (...b: Buffer[]) => b.reduce((h, x) => h.update(x), createHash('sha1')).digest();
    const stage1 = sha1(Buffer.from('pw'));
    const mask = sha1(s, sha1(stage1));
    expect(nativePasswordAuth('pw', s)).toEqual(
      Buffer.from(stage1.map((b, i) => b ^ (mask[i] ?? 0))),
    );
    expect(authDataFor('mysql_clear_password', 'token', s)).toEqual(Buffer.from('token\0'));
    expect(authDataFor('dialog', 'x', s)).toBeUndefined();
  });
});

/** The HandshakeResponse41 fields of a plain login as `app`. */
const response = {
  capabilities: greeting.capabilities,
  mariaDbCapabilities: 0,
  maxPacketSize: 1 << 24,
  charset: 45,
  user: 'app',
  database: undefined,
  connectAttrs: undefined,
};

describe('loginMysql', () => {
  it('answers a switch to mysql_clear_password with the password and returns the OK', async () => {
    const toClient = new PassThrough();
    const sent: Buffer[] = [];
    const reader = new PacketReader(toClient, 1024);
    const login = loginMysql(reader, (b) => sent.push(b), {
      greeting,
      response,
      seq: 2,
      secure: true,
      initial: { plugin: 'mysql_native_password', authData: Buffer.alloc(0) },
      password: (plugin) => (plugin === 'mysql_clear_password' ? 'tok' : undefined),
    });
    toClient.write(frame(3, Buffer.from('\xfemysql_clear_password\0', 'latin1')));
    toClient.write(frame(5, Buffer.from([0, 0, 0, 2, 0, 0, 0])));
    const outcome = await login;
    expect(outcome).toMatchObject({
      kind: 'ok',
      seq: 5,
      plugin: 'mysql_clear_password',
      switched: true,
    });
    expect(sent[0]?.[3]).toBe(2);
    expect(sent[1]).toEqual(frame(4, Buffer.from('tok\0')));
  });

  it('a switch to a plugin nobody answers ends as unanswered, nothing sent', async () => {
    const toClient = new PassThrough();
    const sent: Buffer[] = [];
    const login = loginMysql(new PacketReader(toClient, 1024), (b) => sent.push(b), {
      greeting,
      response,
      seq: 1,
      secure: false,
      password: (plugin) => (plugin === 'mysql_native_password' ? '' : undefined),
    });
    toClient.write(frame(2, Buffer.from('\xfeclient_ed25519\0abc', 'latin1')));
    expect(await login).toEqual({ kind: 'unanswered', plugin: 'client_ed25519' });
    expect(sent).toHaveLength(1);
  });
});

describe('readGreeting', () => {
  /** What readGreeting makes of `payload` sent as the server's first packet. */
  function first(payload: Buffer) {
    const fromServer = new PassThrough();
    const read = readGreeting(new PacketReader(fromServer, 1024), 1_000);
    fromServer.write(frame(0, payload));
    return read;
  }

  it('a greeting with the 4.1 protocol and pluggable auth', async () => {
    expect(await first(buildGreeting(greeting))).toEqual({ kind: 'greeting', greeting });
  });

  it("the server's refusal is handed back as it came", async () => {
    const refusal = errPacket(ER_ACCESS_DENIED, '28000', "Host 'x' is blocked");
    expect(await first(refusal)).toEqual({ kind: 'refused', payload: refusal });
  });

  it('a greeting without what a relay needs, or none at all, is refused', async () => {
    const old = buildGreeting({
      ...greeting,
      capabilities: (Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION) >>> 0,
    });
    await expect(first(old)).rejects.toMatchObject({
      name: 'UnfitGreetingError',
      reason: 'too-old',
    });
    await expect(first(Buffer.from('HTTP/1.1 400'))).rejects.toMatchObject({
      reason: 'not-mysql',
    });
  });
});
