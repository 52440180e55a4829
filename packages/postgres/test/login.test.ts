import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { createIamConnector, RdsIamError, type TokenProvider } from '@rds-iam/core';
import { describe, expect, it, vi } from 'vitest';
import { iamPostgresOptions } from '../src/index.js';
import { iamLogins } from '../src/login.js';

const HOST = 'mydb.abc123xyz.us-east-1.rds.amazonaws.com';
const TOKEN = `${HOST}:5432/?Action=connect&DBUser=app&X-Amz-Signature=abcdef0123456789`;

/** A provider that hands out `tokens` in turn (or fails with `failure`) and records invalidations. */
function provider(tokens: string[], failure?: Error) {
  let next = 0;
  const invalidated: (string | undefined)[] = [];
  const p: TokenProvider = {
    getToken: async () => {
      if (failure) throw failure;
      return tokens[Math.min(next++, tokens.length - 1)] as string;
    },
    invalidate: (token) => {
      invalidated.push(token);
    },
    peek: () => undefined,
    close: () => undefined,
  };
  return { p, invalidated };
}

/** PostgreSQL backend messages. */
const message = (type: string, body: Buffer): Buffer => {
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeUInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
};
const auth = (code: number): Buffer => {
  const body = Buffer.alloc(4);
  body.writeUInt32BE(code);
  return message('R', body);
};
const error = (sqlstate: string, text: string): Buffer =>
  message('E', Buffer.from(`SFATAL\0C${sqlstate}\0M${text}\0\0`));

/**
 * A socket as postgres.js 3 uses it: a `close` listener per connection, and a `data` listener that
 * calls `pass()` at once when the server asks for a cleartext password.
 */
function fakeConnection(pass: () => Promise<string>, closeListener = () => undefined) {
  const socket = Object.assign(new EventEmitter(), {
    destroy: vi.fn<(err?: Error) => void>(),
  });
  const seen: Buffer[] = [];
  const passes: Promise<string>[] = [];
  return {
    socket,
    seen,
    passes,
    attach() {
      socket.on('close', closeListener);
      socket.on('data', (chunk: Buffer) => {
        seen.push(chunk);
        if (chunk[0] === 0x52 && chunk.readUInt32BE(5) === 3) passes.push(pass());
      });
    },
  };
}

function setup(tokens: string[], failure?: Error) {
  const { p, invalidated } = provider(tokens, failure);
  const connector = createIamConnector({ host: HOST, user: 'app', tokenProvider: p }, 'postgres');
  return { logins: iamLogins(connector), invalidated };
}

describe('iamPostgresOptions', () => {
  it('gives postgres.js a pass function, its own socket, ssl false, and passes driver options through', () => {
    const options = iamPostgresOptions({
      host: HOST,
      user: 'app',
      database: 'app',
      max: 5,
      region: 'us-east-1',
      onEvent: () => undefined,
    });
    expect(options).toMatchObject({ host: HOST, port: 5432, user: 'app', database: 'app', max: 5 });
    expect(options.ssl).toBe(false);
    expect(typeof options.pass).toBe('function');
    expect(typeof options.socket).toBe('function');
    // rds-iam's own options stay with rds-iam.
    expect(options).not.toHaveProperty('region');
    expect(options).not.toHaveProperty('onEvent');
  });

  it('takes the user as `username` (postgres.js’s name) or `user`, or both when they agree', () => {
    for (const names of [{ username: 'app' }, { user: 'app' }, { user: 'app', username: 'app' }]) {
      const options = iamPostgresOptions({ host: HOST, ...names });
      expect(options.user).toBe('app');
      // One name only, so postgres.js (`user || username`) cannot read another.
      expect(options).not.toHaveProperty('username');
    }
  });

  it('refuses a password, a socket, disagreeing user names and plaintext with an RdsIamError', () => {
    for (const [extra, code] of [
      [{ password: 'x' }, 'ERR_CONFLICTING_OPTIONS'],
      [{ socket: () => null }, 'ERR_CONFLICTING_OPTIONS'],
      [{ username: 'other' }, 'ERR_CONFLICTING_OPTIONS'],
      [{ ssl: false }, 'ERR_TLS_REQUIRED'],
    ] as const) {
      expect(() => iamPostgresOptions({ host: HOST, user: 'app', ...extra } as never)).toThrow(
        expect.objectContaining({ name: 'RdsIamError', code }),
      );
    }
  });
});

describe('the login watch', () => {
  it('a rejected token is dropped and hidden from postgres.js once; the socket closes cleanly', async () => {
    const { logins, invalidated } = setup([TOKEN, 'fresh-token']);
    const conn = fakeConnection(logins.pass);
    logins.watch(conn.socket);
    conn.attach();
    conn.socket.emit('data', auth(3));
    expect(await conn.passes[0]).toBe(TOKEN);
    conn.socket.emit('data', error('28000', 'PAM authentication failed for user "app"'));
    expect(invalidated).toEqual([TOKEN]);
    // postgres.js saw the password request, not the rejection; the socket closed without an error,
    // which postgres.js 3 answers by dialling again for the same query.
    expect(conn.seen).toHaveLength(1);
    expect(conn.socket.destroy).toHaveBeenCalledWith();
  });

  it('the second rejection in a row on one connection fails with ERR_AUTH_REJECTED, no token text', async () => {
    const { logins } = setup([TOKEN, 'fresh-token']);
    const owner = () => undefined;
    for (const round of [1, 2]) {
      const conn = fakeConnection(logins.pass, owner);
      logins.watch(conn.socket);
      conn.attach();
      conn.socket.emit('data', auth(3));
      await conn.passes[0];
      conn.socket.emit('data', error('28P01', 'PAM authentication failed for user "app"'));
      if (round === 1) {
        expect(conn.socket.destroy).toHaveBeenCalledWith();
        continue;
      }
      const err = conn.socket.destroy.mock.calls[0]?.[0];
      expect(err).toBeInstanceOf(RdsIamError);
      expect(err).toMatchObject({ code: 'ERR_AUTH_REJECTED' });
      expect(err?.message).toMatch(/rejected the IAM token .* twice \(PAM authentication failed/);
      expect(inspect(err, { depth: 5 })).not.toMatch(/X-Amz-Signature|abcdef0123456789/);
    }
  });

  it('after AuthenticationOk the socket is left as it was, and other errors reach postgres.js', async () => {
    const { logins, invalidated } = setup([TOKEN]);
    const conn = fakeConnection(logins.pass);
    logins.watch(conn.socket);
    expect(Object.hasOwn(conn.socket, 'emit')).toBe(true);
    conn.attach();
    conn.socket.emit('data', auth(3));
    await conn.passes[0];
    conn.socket.emit('data', Buffer.concat([auth(0), message('Z', Buffer.from('I'))]));
    expect(Object.hasOwn(conn.socket, 'emit')).toBe(false);
    expect(conn.seen).toHaveLength(2);

    const other = fakeConnection(logins.pass);
    logins.watch(other.socket);
    other.attach();
    other.socket.emit('data', auth(3));
    await other.passes[0];
    other.socket.emit('data', error('3D000', 'database "nope" does not exist'));
    expect(other.seen).toHaveLength(2);
    expect(other.socket.destroy).not.toHaveBeenCalled();
    expect(invalidated).toEqual([]);
  });

  it('a message split across chunks is still read', async () => {
    const { logins, invalidated } = setup([TOKEN]);
    const conn = fakeConnection(logins.pass);
    logins.watch(conn.socket);
    conn.attach();
    conn.socket.emit('data', auth(3));
    await conn.passes[0];
    const rejection = error('28000', 'PAM authentication failed for user "app"');
    conn.socket.emit('data', rejection.subarray(0, 7));
    expect(invalidated).toEqual([]);
    conn.socket.emit('data', rejection.subarray(7));
    expect(invalidated).toEqual([TOKEN]);
    expect(conn.socket.destroy).toHaveBeenCalledWith();
  });

  it('a token that cannot be minted ends that socket with the error; pass() never rejects', async () => {
    const failure = new RdsIamError('ERR_CREDENTIALS', 'rds-iam: no credentials');
    const { logins } = setup([], failure);
    const conn = fakeConnection(logins.pass);
    logins.watch(conn.socket);
    conn.attach();
    conn.socket.emit('data', auth(3));
    const settled = vi.fn();
    conn.passes[0]?.then(settled, settled);
    await vi.waitFor(() => expect(conn.socket.destroy).toHaveBeenCalledWith(failure));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(settled).not.toHaveBeenCalled();
  });

  it('pass() outside a watched message (postgres.js 4) resolves or rejects as the mint does', async () => {
    expect(await setup([TOKEN]).logins.pass()).toBe(TOKEN);
    const failure = new RdsIamError('ERR_CREDENTIALS', 'rds-iam: no credentials');
    await expect(setup([], failure).logins.pass()).rejects.toBe(failure);
  });
});
