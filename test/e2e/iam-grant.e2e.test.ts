// The emulator is as strict as RDS by default: a valid token for a user that is not an IAM user of the
// database (PostgreSQL: no GRANT rds_iam; MySQL / MariaDB: a password of its own instead of the IAM
// plugin) is refused with RDS's own words, and the emulator's log line says what is missing and the
// statement that fixes it. Real drivers, real servers, verified TLS.
import { type EmulatorLogin, formatLogin } from '@rds-iam/emulator';
import { describe, expect, test } from 'vitest';
import {
  createIamUser,
  ENGINES,
  hasDatabase,
  loginAndQuery,
  startIamEndpoint,
} from '../harness/index.js';

for (const engine of ENGINES) {
  describe.runIf(hasDatabase(engine))(`${engine}: a user without the IAM set-up`, () => {
    test('is refused as RDS refuses it, while an IAM user logs in; the log line names the fix', async () => {
      const logins: EmulatorLogin[] = [];
      const [iam, iamUser, plain] = await Promise.all([
        startIamEndpoint(engine, { emulator: { onLogin: (l) => logins.push(l) } }),
        createIamUser(engine),
        createIamUser(engine, { iam: false }),
      ]);
      const login = ({ user, database }: { user: string; database: string | undefined }) => {
        const tokens = iam.tokenProvider(user);
        return loginAndQuery(iam, { user, database, password: () => tokens.getToken() });
      };

      await expect(login(iamUser)).resolves.toMatchObject({ currentUser: iamUser.user });
      const refused = (await login(plain).catch((e: unknown) => e)) as {
        code?: string;
        errno?: number;
        message?: string;
      };
      if (engine === 'postgres') {
        expect(refused).toMatchObject({
          code: '28P01',
          message: `password authentication failed for user "${plain.user}"`,
        });
      } else {
        expect(refused.errno).toBe(1045);
        expect(refused.message).toMatch(
          new RegExp(`^Access denied for user '${plain.user}'@'[^']+' \\(using password: YES\\)$`),
        );
      }
      expect(iam.emulator.counters().rejectedByReason).toEqual({ 'not-iam-user': 1 });
      const line = formatLogin(logins.find((l) => !l.accepted) ?? logins[0]!);
      expect(line).toContain(`login ${plain.user}: refused, not-iam-user (`);
      expect(line).toContain(
        engine === 'postgres'
          ? `GRANT rds_iam TO "${plain.user}"`
          : "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'",
      );
    });
  });
}
