import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { RdsIamError } from '@rds-iam/core';

const require = createRequire(import.meta.url);

/**
 * Loads an optional peer dependency when it is first needed, so that `@rds-iam/prisma` can be
 * imported with only one of the two driver adapters installed, and synchronously, so that
 * `iamPrismaPg()` / `iamPrismaMariaDb()` return the adapter itself.
 *
 * The Prisma adapters ship an ES module (`dist/index.mjs`) next to their CommonJS build. On Node.js
 * 20.19+ `require()` loads an ES module into the same module map `import` uses, so the adapter
 * classes are the very ones an application imports (`instanceof PrismaPg` holds); where that is not
 * possible the CommonJS build is used, which Prisma accepts all the same.
 *
 * @throws {RdsIamError} `ERR_INVALID_OPTION` naming the package to install when it is missing.
 */
export function loadPeer<T>(name: string, engine: 'pg' | 'mysql'): T {
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch (err) {
    const install = engine === 'pg' ? `${name} pg` : name;
    throw new RdsIamError(
      'ERR_INVALID_OPTION',
      `rds-iam: ${name} is not installed. Install it next to @rds-iam/prisma: npm install ${install}`,
      { cause: err },
    );
  }
  const esm = entry.replace(/\.c?js$/, '.mjs');
  if (esm !== entry && existsSync(esm)) {
    try {
      return require(esm) as T;
    } catch {
      // No require(esm) in this Node.js: the CommonJS build below.
    }
  }
  return require(entry) as T;
}

/**
 * A dependency as `name` itself resolves it (its own copy, where the package manager gave it one),
 * for objects that must pass `name`'s `instanceof` checks.
 */
export function loadPeerDependency<T>(name: string, dependency: string): T {
  return createRequire(require.resolve(name))(dependency) as T;
}
