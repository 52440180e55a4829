import { defineConfig } from 'vitest/config';

/**
 * The one Vitest configuration every workspace package extends. Besides the console report it writes
 * a JSON report that `scripts/test-summary.mjs` adds up into the repository's closing line.
 */
export function vitestConfig(
  overrides: { testTimeout?: number; include?: string[]; maxWorkers?: number } = {},
) {
  return defineConfig({
    test: {
      include: overrides.include ?? ['test/**/*.test.ts'],
      testTimeout: overrides.testTimeout ?? 20_000,
      ...(overrides.maxWorkers !== undefined
        ? { maxWorkers: overrides.maxWorkers, minWorkers: 1 }
        : {}),
      hookTimeout: 30_000,
      reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
      // Workspace packages are loaded from their build as users load them: by Node itself. Vite
      // would otherwise inline the symlinked `dist` files and treat the CommonJS build as ESM.
      server: { deps: { external: [/\/packages\/[^/]+\/dist\//] } },
    },
  });
}
