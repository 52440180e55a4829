// Node built-ins the core needs only when it signs or connects. Loading node:tls and node:crypto at
// import time costs a cold start (a Lambda, a CLI) about 25 ms before anything needs them.
// `process.getBuiltinModule` (Node >= 20.16) loads them on demand in CommonJS, in ES modules and in
// bundles alike, where `createRequire(import.meta.url)` breaks once a bundler empties `import.meta`.
// node:os and node:fs/promises serve only the credential chain's rarer paths (a profile, a container
// token file); Lambda's environment keys never need them, so they wait too (about 1 ms).
let tlsModule: typeof import('node:tls') | undefined;
let cryptoModule: typeof import('node:crypto') | undefined;
let osModule: typeof import('node:os') | undefined;
let fsPromisesModule: typeof import('node:fs/promises') | undefined;

/** `node:tls`, loaded on first use. */
export function nodeTls(): typeof import('node:tls') {
  tlsModule ??= process.getBuiltinModule('node:tls');
  return tlsModule;
}

/** `node:crypto`, loaded on first use. */
export function nodeCrypto(): typeof import('node:crypto') {
  cryptoModule ??= process.getBuiltinModule('node:crypto');
  return cryptoModule;
}

/** `node:os`, loaded on first use. */
export function nodeOs(): typeof import('node:os') {
  osModule ??= process.getBuiltinModule('node:os');
  return osModule;
}

/** `node:fs/promises`, loaded on first use. */
export function nodeFsPromises(): typeof import('node:fs/promises') {
  fsPromisesModule ??= process.getBuiltinModule('node:fs/promises');
  return fsPromisesModule;
}
