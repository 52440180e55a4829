import { defineConfig, mergeConfig } from 'vitest/config';
import { vitestConfig } from '../vitest.shared.js';

// End-to-end tests log in to real databases through the emulator: discovery runs once
// (harness/global-setup.ts) and every file cleans up after itself (harness/setup.ts).
export default mergeConfig(
  vitestConfig({
    testTimeout: 60_000,
    // Two files at a time: an end-to-end file mostly waits on sockets (the emulator, the servers, npm),
    // and Vitest's default on two cores is one. Every file makes users, databases and emulators of
    // its own; the examples, which share one user, take turns (examples/local-endpoint).
    maxWorkers: 2,
    include: [
      'e2e/**/*.test.ts',
      'soak/**/*.test.ts',
      'bad-input/**/*.test.ts',
      'packaging/**/*.test.ts',
    ],
  }),
  defineConfig({
    test: {
      globalSetup: ['harness/global-setup.ts'],
      setupFiles: ['harness/setup.ts'],
    },
  }),
);
