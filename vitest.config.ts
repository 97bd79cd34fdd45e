import { defineConfig } from 'vitest/config';

// One suite for the whole workspace. Tests are real (real images from ../shared, real DuckDB files,
// real child processes, real Chromium), so they are given generous timeouts and run in forks: tfjs's
// wasm backend and DuckDB's native binding each hold process-wide state.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
