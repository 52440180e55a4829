import { parseAuthToken, type TokenEvent } from '@rds-iam/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createIamUser,
  databaseFor,
  driverError,
  ENGINES,
  hasDatabase,
  type IamEndpoint,
  type IamUser,
  loginAndQuery,
  startIamEndpoint,
} from '../harness/index.js';

const MINUTE = 60_000;

/** How each engine words a rejected token. */
const REJECTION = {
  postgres: { code: '28P01', message: /PAM authentication failed for user "(.+)"/ },
  mysql: { errno: 1045, message: /Access denied for user '(.+)'@'.+' \(using password: YES\)/ },
} as const;

for (const engine of ENGINES) {
  describe.runIf(hasDatabase(engine))(
    `${engine} end-to-end: core token provider + emulator`,
    () => {
      let iam: IamEndpoint;
      let app: IamUser;
      let other: IamUser;

      beforeAll(async () => {
        [iam, app, other] = await Promise.all([
          startIamEndpoint(engine),
          createIamUser(engine, { database: true }),
          createIamUser(engine),
        ]);
      });
      afterAll(async () => {
        await iam.stop();
        await Promise.all([app.drop(), other.drop()]);
      });

      test('a provider token logs in over TLS and the query runs as that user', async () => {
        iam.emulator.resetCounters();
        const events: TokenEvent[] = [];
        const tokens = iam.tokenProvider(app.user, { onEvent: (e) => events.push(e) });

        const session = await loginAndQuery(iam, {
          user: app.user,
          database: app.database,
          password: () => tokens.getToken(),
        });

        expect(session.tls).toBe(true);
        if (databaseFor(engine)?.enforcesLoginUser) {
          expect(session.currentUser).toBe(app.user);
          expect(session.database).toBe(app.database);
        }
        expect(iam.emulator.counters()).toMatchObject({ accepted: 1, rejected: 0 });
        expect(events.map((e) => e.type)).toEqual(['minted']);
        const info = tokens.peek();
        expect(info).toBeDefined();
        expect((info?.expiresAt.getTime() ?? 0) - (info?.issuedAt.getTime() ?? 0)).toBe(
          15 * MINUTE,
        );
      });

      test('20 minutes later a new connection logs in with a newly minted token', async () => {
        iam.emulator.resetCounters();
        let minted = 0;
        let hits = 0;
        const presented: string[] = [];
        const tokens = iam.tokenProvider(app.user, {
          onEvent: (e) => {
            if (e.type === 'minted') minted++;
            if (e.type === 'hit') hits++;
          },
        });
        const password = async (): Promise<string> => {
          const token = await tokens.getToken();
          presented.push(token);
          return token;
        };
        const login = { user: app.user, database: app.database, password };

        await loginAndQuery(iam, login);
        await loginAndQuery(iam, login);
        expect({ minted, hits }).toEqual({ minted: 1, hits: 1 });
        const first = parseAuthToken(presented[0] ?? '');

        iam.clock.advance(20 * MINUTE);
        await loginAndQuery(iam, login);

        expect(minted).toBe(2);
        expect(iam.emulator.counters()).toMatchObject({ accepted: 3, rejected: 0 });
        const second = parseAuthToken(presented[2] ?? '');
        expect(second.issuedAt.getTime() - first.issuedAt.getTime()).toBeGreaterThanOrEqual(
          20 * MINUTE - 1_000,
        );
        expect(second.user).toBe(app.user);
        expect(second.host).toBe(iam.endpoint.host);
        expect(second.port).toBe(iam.endpoint.port);

        // The first token is past its 15 minutes on the emulator's clock too: presented again, it fails.
        const stale = await loginAndQuery(iam, { ...login, password: presented[0] ?? '' }).then(
          () => undefined,
          driverError,
        );
        expect(stale?.message).toMatch(REJECTION[engine].message);
        expect(iam.emulator.counters().rejectedByReason).toEqual({ expired: 1 });
      });

      test(`a token signed for another user is rejected with the engine's error`, async () => {
        iam.emulator.resetCounters();
        const otherTokens = iam.tokenProvider(other.user);

        const err = await loginAndQuery(iam, {
          user: app.user,
          database: app.database,
          password: () => otherTokens.getToken(),
        }).then(() => undefined, driverError);

        expect(err).toBeDefined();
        const expected = REJECTION[engine];
        expect(err?.message).toMatch(expected.message);
        expect(expected.message.exec(err?.message ?? '')?.[1]).toBe(app.user);
        if ('code' in expected) expect(err?.code).toBe(expected.code);
        else expect(err?.errno).toBe(expected.errno);
        expect(iam.emulator.counters()).toMatchObject({
          accepted: 0,
          rejected: 1,
          rejectedByReason: { 'wrong-user': 1 },
        });
        // The same token is good for the user it names.
        const session = await loginAndQuery(iam, {
          user: other.user,
          database: engine === 'postgres' ? other.database : undefined,
          password: () => otherTokens.getToken(),
        });
        if (databaseFor(engine)?.enforcesLoginUser) expect(session.currentUser).toBe(other.user);
      });
    },
  );
}
