import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { type SignRequest, signRdsToken } from '../src/sign.js';

/** A wall clock the test moves by hand. */
export function fakeClock(start = Date.UTC(2026, 0, 15, 12, 0, 0)) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
    get time() {
      return t;
    },
  };
}

export const MINUTE = 60_000;

/** AWS's documented example key pair: obviously not real. */
export const STATIC_CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};

/** A real SigV4 signer that counts its calls and can be made slow or failing. */
export function countingSigner() {
  const calls: SignRequest[] = [];
  let failWith: Error | undefined;
  let gate: Promise<void> | undefined;
  const sign = async (request: SignRequest) => {
    calls.push(request);
    if (gate) await gate;
    if (failWith) throw failWith;
    return signRdsToken(request);
  };
  return {
    sign,
    calls,
    fail(err: Error | undefined) {
      failWith = err;
    },
    /** Holds every signature until the returned function is called. */
    hold(): () => void {
      let release!: () => void;
      gate = new Promise((resolve) => {
        release = resolve;
      });
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

/** The secret parts of a token, which must never show up anywhere. */
export function secretsOf(token: string): string[] {
  const params = new URLSearchParams(token.slice(token.indexOf('?') + 1));
  return ['X-Amz-Signature', 'X-Amz-Security-Token']
    .map((name) => params.get(name))
    .filter((value): value is string => Boolean(value));
}

/**
 * Keeps the AWS SDK's default credential chain off this machine's real files and metadata endpoints
 * in every test of the calling file: no AWS_* variables, the config and credentials files in a fresh
 * folder, instance metadata off; the environment is restored after each test. Returns a function
 * that gives the running test's folder.
 */
export function isolateAwsEnvironment(prefix: string): () => string {
  const savedEnv = { ...process.env };
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    for (const name of Object.keys(process.env)) {
      if (name.startsWith('AWS_')) delete process.env[name];
    }
    process.env.AWS_CONFIG_FILE = join(dir, 'config');
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
  });
  afterEach(() => {
    process.env = { ...savedEnv };
    rmSync(dir, { recursive: true, force: true });
  });
  return () => dir;
}
