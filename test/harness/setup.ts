import { afterAll } from 'vitest';
import { cleanupHarness } from './context.js';

// After every test file: stop its emulators, close its token providers, drop its users and databases.
afterAll(cleanupHarness);
