import { createRequire } from 'node:module';

// Node built-ins the core needs only when it signs or connects. Loading node:tls and node:crypto at
// import time costs a cold start (a Lambda, a CLI) about 25 ms before anything needs them.
const require = createRequire(import.meta.url);
let tlsModule: typeof import('node:tls') | undefined;
let cryptoModule: typeof import('node:crypto') | undefined;

/** `node:tls`, loaded on first use. */
export function nodeTls(): typeof import('node:tls') {
  tlsModule ??= require('node:tls') as typeof import('node:tls');
  return tlsModule;
}

/** `node:crypto`, loaded on first use. */
export function nodeCrypto(): typeof import('node:crypto') {
  cryptoModule ??= require('node:crypto') as typeof import('node:crypto');
  return cryptoModule;
}
