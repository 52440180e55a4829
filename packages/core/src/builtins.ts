// Node built-ins the core needs only when it signs or connects. Loading node:tls and node:crypto at
// import time costs a cold start (a Lambda, a CLI) about 25 ms before anything needs them.
// `process.getBuiltinModule` (Node >= 20.16) loads them on demand in CommonJS, in ES modules and in
// bundles alike, where `createRequire(import.meta.url)` breaks once a bundler empties `import.meta`.
// node:os and node:fs/promises serve only the credential chain's rarer paths (a profile, a container
// token file); Lambda's environment keys never need them, so they wait too (about 1 ms).

/** A function that loads a built-in on its first call and returns the same module after. */
function onFirstUse<T>(load: () => T): () => T {
  let module: T | undefined;
  return () => {
    module ??= load();
    return module;
  };
}

/** `node:tls`, loaded on first use. */
export const nodeTls = onFirstUse(() => process.getBuiltinModule('node:tls'));

/** `node:crypto`, loaded on first use. */
export const nodeCrypto = onFirstUse(() => process.getBuiltinModule('node:crypto'));

/** `node:os`, loaded on first use. */
export const nodeOs = onFirstUse(() => process.getBuiltinModule('node:os'));

/** `node:fs`, loaded on first use (a CA file named in `ssl.caFile`). */
export const nodeFs = onFirstUse(() => process.getBuiltinModule('node:fs'));

/** `node:fs/promises`, loaded on first use. */
export const nodeFsPromises = onFirstUse(() => process.getBuiltinModule('node:fs/promises'));
