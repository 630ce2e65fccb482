import { defineConfig } from 'vitest/config';

// One file against one live server: run the tests in order, in one process.
export default defineConfig({ test: { include: ['test/**/*.test.ts'], fileParallelism: false, testTimeout: 30000 } });
