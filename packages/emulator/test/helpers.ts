import { createHook } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { Signer } from '@aws-sdk/rds-signer';
import pg from 'pg';
import type { Emulator } from '../src/options.js';
import { type PresignParams, presignAuthToken } from '../src/sigv4.js';
import type { EmulatorCredentials } from '../src/verify.js';

export { presignAuthToken };

/** The local PostgreSQL every test logs in to upstream (trust auth). */
export const PG_UPSTREAM = { host: '127.0.0.1', port: 5432 } as const;

/** A token minted by the real AWS SDK signer. */
export async function sdkToken(opts: {
  host: string;
  port: number;
  user: string;
  region?: string;
  credentials: EmulatorCredentials;
}): Promise<string> {
  const { accessKeyId, secretAccessKey, sessionToken } = opts.credentials;
  return new Signer({
    hostname: opts.host,
    port: opts.port,
    username: opts.user,
    region: opts.region ?? 'us-east-1',
    credentials: sessionToken
      ? { accessKeyId, secretAccessKey, sessionToken }
      : { accessKeyId, secretAccessKey },
  }).getAuthToken();
}

/** Our own presigner with defaults; override any part. */
export function ourToken(
  p: Partial<PresignParams> & Pick<PresignParams, 'host' | 'port' | 'user'>,
): string {
  return presignAuthToken({
    region: 'us-east-1',
    accessKeyId: 'AKIAEMULATORDEMO0001',
    secretAccessKey: 'x',
    signedAt: Date.now(),
    ...p,
  });
}

/** `X-Amz-Date` of a token, in ms. */
export function signedAtOf(token: string): number {
  const m = /X-Amz-Date=(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(token);
  if (!m) throw new Error('no X-Amz-Date');
  const [, y, mo, d, h, mi, s] = m.map(Number);
  return Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 0, h ?? 0, mi ?? 0, s ?? 0);
}

/** A direct superuser connection to the local PostgreSQL. */
export async function adminQuery(sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ ...PG_UPSTREAM, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * Creates a throwaway login role as the seed creates an IAM user (`CREATE USER`, `GRANT rds_iam`), so
 * that the emulator, strict as RDS by default, takes tokens for it; `{ iam: false }` leaves out the
 * grant. Returns its name.
 */
export async function createRole(prefix = 'emu', { iam = true } = {}): Promise<string> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  // RDS creates the rds_iam role; a local server has none until it is given one.
  await adminQuery(
    `DO $$BEGIN CREATE ROLE rds_iam NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$`,
  );
  await adminQuery(`CREATE USER ${name}`);
  if (iam) await adminQuery(`GRANT rds_iam TO ${name}`);
  return name;
}

export async function dropRole(name: string): Promise<void> {
  await adminQuery(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${name}'`,
  );
  await adminQuery(`DROP ROLE IF EXISTS ${name}`);
}

/** Polls until `check` is true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('waitFor timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Counts of active handles by type (TCPWrap, Timeout, ...). */
export function activeResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/**
 * Records every timer created from now on and reports those still pending, except the test runner's
 * own (vitest keeps a few, which come and go) and the test's own sleeps.
 */
export function trackTimers(): { pending(): string[]; stop(): void } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      const stack = new Error().stack ?? '';
      // The frame that asked for the timer: the first one outside Node's internals and this hook.
      const creator = stack
        .split('\n')
        .slice(1)
        .find((l) => !l.includes('node:') && !l.includes('trackTimers') && !l.includes('init ('));
      // Only the emulator's own timers count: pg's and vitest's come and go on their own schedule.
      if (!creator || !/\/emulator\/(src|dist)\//.test(creator)) return;
      live.set(id, stack);
    },
    destroy(id) {
      live.delete(id);
    },
  });
  hook.enable();
  return { pending: () => [...live.values()], stop: () => hook.disable() };
}

/** A node-postgres client for `user` at `emu`'s listen address, trusting its CA, database `test`. */
export function clientFor(
  emu: Emulator,
  user: string,
  password: string,
  extra: Partial<pg.ClientConfig> = {},
): pg.Client {
  return new pg.Client({
    host: emu.host,
    port: emu.port,
    user,
    database: 'test',
    password,
    ssl: { ca: emu.caPem },
    ...extra,
  });
}
