import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Native work is CPU-bound; the CI machine has 2 cores.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // ink renders only a final frame when CI is set (is-in-ci); the chat's UI tests drive the interactive
    // terminal, as a user's session is, so CI runs them the same way
    env: { CI: 'false', CONTINUOUS_INTEGRATION: 'false' },
  },
});
