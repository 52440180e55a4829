import { defineConfig, mergeConfig } from 'vitest/config';
import { vitestConfig } from '../vitest.shared.js';

// End-to-end tests log in to real databases through the emulator: discovery runs once
// (harness/global-setup.ts) and every file cleans up after itself (harness/setup.ts).
export default mergeConfig(
  vitestConfig({
    testTimeout: 60_000,
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
