import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  AuthCode,
  authRequest,
  errorResponse,
  FrameReader,
  loginPostgres,
  md5Password,
  message,
  parseStartupParams,
  startupMessage,
} from '../src/index.js';

const md5 = (s: Buffer | string) => createHash('md5').update(s).digest('hex');

/** A scripted server: what it sends, and what the client wrote. */
function scripted() {
  const fromServer = new PassThrough();
  const written: Buffer[] = [];
  return {
    reader: new FrameReader(fromServer, 1 << 16),
    fromServer,
    written,
    write: (b: Buffer) => written.push(b),
  };
}

describe('loginPostgres', () => {
  it('md5: answers with md5(md5(password + user) + salt) and returns the session start-up', async () => {
    const s = scripted();
    const salt = Buffer.from([1, 2, 3, 4]);
    const login = loginPostgres(s.reader, s.write, {
      params: new Map([
        ['user', 'app'],
        ['database', 'db'],
      ]),
      password: () => 'pw',
    });
    s.fromServer.write(authRequest(AuthCode.MD5, salt));
    const ok = Buffer.concat([
      authRequest(AuthCode.OK),
      message('S', Buffer.from('server_version\u000017.2\u0000')),
      message('K', Buffer.alloc(8)),
      message('Z', Buffer.from('I')),
    ]);
    s.fromServer.write(ok);
    const outcome = await login;
    expect(outcome).toEqual({ kind: 'ready', handshake: ok, method: 'md5', serverVersion: '17.2' });
    const expected = `md5${md5(Buffer.concat([Buffer.from(md5('pwapp')), salt]))}`;
    expect(md5Password('pw', 'app', salt)).toBe(expected);
    expect(s.written[1]).toEqual(message('p', Buffer.from(`${expected}\0`)));
    expect(parseStartupParams((s.written[0] as Buffer).subarray(8))).toEqual(
      new Map([
        ['user', 'app'],
        ['database', 'db'],
      ]),
    );
    expect(s.written[0]).toEqual(
      startupMessage(
        new Map([
          ['user', 'app'],
          ['database', 'db'],
        ]),
      ),
    );
  });

  it('a method the caller does not answer ends the login with nothing sent', async () => {
    const s = scripted();
    const login = loginPostgres(s.reader, s.write, {
      params: new Map([['user', 'app']]),
      password: (method) => (method === 'cleartext' ? 'token' : undefined),
    });
    s.fromServer.write(authRequest(AuthCode.SASL, Buffer.from('SCRAM-SHA-256\0\0')));
    expect(await login).toEqual({ kind: 'unanswered', method: 'SASL (SCRAM-SHA-256)', code: 10 });
    expect(s.written).toHaveLength(1);
  });

  it('an ErrorResponse after AuthenticationOk is a session failure, with its fields', async () => {
    const s = scripted();
    const login = loginPostgres(s.reader, s.write, {
      params: new Map([['user', 'app']]),
      password: () => 'token',
    });
    s.fromServer.write(authRequest(AuthCode.CLEARTEXT));
    s.fromServer.write(authRequest(AuthCode.OK));
    s.fromServer.write(errorResponse('FATAL', '3D000', 'database "x" does not exist'));
    const outcome = await login;
    expect(outcome).toMatchObject({ kind: 'error', authenticated: true, method: 'cleartext' });
    expect(outcome.kind === 'error' && outcome.fields.get('C')).toBe('3D000');
  });
});
