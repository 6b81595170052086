/**
 * One artifact-tier run: a temporary folder outside the repository, created by the vitest global
 * setup (`global-setup.ts`) and shared by every test file of the run. What must happen once per run
 * (the synth, the Node 24 install) happens through {@link oncePerRun}, which works across the
 * worker processes vitest forks (`once.ts`).
 */
import { inject } from 'vitest';
import { oncePerRunIn } from './once.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's temporary folder (see {@link artifactRunDir}). */
    pikoArtifactRun: string;
  }
}

/** The run's temporary folder. @throws when the vitest global setup did not run. */
export function artifactRunDir(): string {
  const dir = inject('pikoArtifactRun');
  if (!dir) {
    throw new Error(
      'The artifact tier needs its vitest global setup (test/artifacts/support/global-setup.ts in vitest.config.ts): run it with npx vitest run',
    );
  }
  return dir;
}

/**
 * Runs `create` once per run across all test workers and returns its JSON result to everyone (see
 * {@link oncePerRunIn}; the vitest global setup may already have started it, in the background).
 */
export function oncePerRun<T>(name: string, create: () => Promise<T>): Promise<T> {
  return oncePerRunIn(artifactRunDir(), name, create);
}
