import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The artifact tier's run folder (cheap: its synth and servers start only when its tests run).
    globalSetup: ['test/artifacts/support/global-setup.ts'],
  },
});
