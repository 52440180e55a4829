// Node built-ins the core needs only when it signs or connects. Loading node:tls and node:crypto at
// import time costs a cold start (a Lambda, a CLI) about 25 ms before anything needs them.
// `process.getBuiltinModule` (Node >= 20.16) loads them on demand in CommonJS, in ES modules and in
// bundles alike, where `createRequire(import.meta.url)` breaks once a bundler empties `import.meta`.
let tlsModule: typeof import('node:tls') | undefined;
let cryptoModule: typeof import('node:crypto') | undefined;

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
