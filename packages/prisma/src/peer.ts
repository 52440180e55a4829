import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { RdsIamError } from '@rds-iam/core';

/**
 * Loads an optional peer dependency when it is first needed, so that `@rds-iam/prisma/pg` and
 * `@rds-iam/prisma/mariadb` load only the adapter they are for, and synchronously, so that
 * `iamPrismaPg()` / `iamPrismaMariaDb()` return the adapter itself.
 *
 * The Prisma adapters ship an ES module (`dist/index.mjs`) next to their CommonJS build. On Node.js
 * 20.19+ `require()` loads an ES module into the same module map `import` uses, so the adapter
 * classes are the very ones an application imports (`instanceof PrismaPg` holds). Where there is no
 * such file to resolve (a bundle), `load` runs: it holds a literal `require('name')`, which bundlers
 * (esbuild, webpack) see and carry into the bundle, evaluated only when `load` runs.
 *
 * @throws {RdsIamError} `ERR_INVALID_OPTION` naming the package to install when it is missing.
 */
export function loadPeer<T>(name: string, engine: 'pg' | 'mysql', load: () => unknown): T {
  try {
    const esm = esmBuildOf(name);
    return (esm === undefined ? load() : require(esm)) as T;
  } catch (err) {
    if (!isMissing(err, name)) throw err;
    const install = engine === 'pg' ? `${name} pg` : name;
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: ${name} is not installed. Install it next to @rds-iam/prisma: npm install ${install}`,
      { cause: err },
    );
  }
}

/**
 * A dependency as `name` itself resolves it (its own copy, where the package manager gave it one),
 * for objects that must pass `name`'s `instanceof` checks. In a bundle there is nothing to resolve
 * from, and the bundler has given both one copy: `fallback` (a literal `require`) loads that one.
 */
export function loadPeerDependency<T>(
  name: string,
  dependency: string,
  fallback: () => unknown,
): T {
  let peerEntry: string | undefined;
  try {
    peerEntry = require.resolve(name);
  } catch {
    // bundled, or not installed: the fallback says which
  }
  if (peerEntry !== undefined) {
    try {
      return createRequire(peerEntry)(dependency) as T;
    } catch {
      // the peer found it elsewhere (hoisted): the fallback resolves the same way
    }
  }
  return fallback() as T;
}

function esmBuildOf(name: string): string | undefined {
  try {
    const esm = require.resolve(name).replace(/\.c?js$/, '.mjs');
    return esm.endsWith('.mjs') && existsSync(esm) ? esm : undefined;
  } catch {
    return undefined;
  }
}

function isMissing(err: unknown, name: string): boolean {
  const { code, message } = err as { code?: unknown; message?: unknown };
  return (
    code === 'MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${name}'`)
  );
}
