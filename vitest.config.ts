import { defineConfig } from 'vitest/config';
import { ArtifactsLastSequencer } from './test/artifacts/support/sequencer.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The artifact tier's run folder, and its two synths started in the background when the run has
    // artifact files; those files run last, so the synths use the idle core meanwhile.
    globalSetup: ['test/artifacts/support/global-setup.ts'],
    sequence: { sequencer: ArtifactsLastSequencer },
  },
});
