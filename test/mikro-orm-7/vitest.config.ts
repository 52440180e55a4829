import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import { vitestConfig } from '../../vitest.shared.js';

// The MikroORM parts of test/ run again with MikroORM 7 (which needs Node.js 22.17+): the same files,
// with `@mikro-orm/*` resolved to this package's MikroORM 7 wherever they are imported. A shared file
// that tests other integrations too registers only its MikroORM part when MikroORM 7 is loaded
// (test/harness/mikro-orm.ts); the bad-input table runs whole, with MikroORM 7's driver classes.
const MIKRO_ORM = ['core', 'postgresql', 'mysql', 'mariadb'].map((name) => ({
  find: `@mikro-orm/${name}`,
  replacement: fileURLToPath(new URL(`node_modules/@mikro-orm/${name}`, import.meta.url)),
}));

export default mergeConfig(
  vitestConfig({
    testTimeout: 60_000,
    // Two files at a time: an end-to-end file mostly waits on sockets (the emulator, the servers, npm),
    // and Vitest's default on two cores is one. Every file makes users, databases and emulators of
    // its own; the examples, which share one user, take turns (examples/local-endpoint).
    maxWorkers: 2,
    include: [
      'e2e/mikro-orm.e2e.test.ts',
      'e2e/examples-orm.e2e.test.ts',
      'soak/soak.test.ts',
      'bad-input/bad-input.test.ts',
      'mikro-orm-7/*.test.ts',
    ],
  }),
  defineConfig({
    resolve: { alias: MIKRO_ORM },
    test: {
      // Test files are found from test/; this package's root keeps its own report and caches.
      dir: '..',
      globalSetup: ['../harness/global-setup.ts'],
      setupFiles: ['../harness/setup.ts'],
    },
  }),
);
