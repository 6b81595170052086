/**
 * One artifact-tier run: a temporary folder outside the repository, created by the vitest global
 * setup (`global-setup.ts`) and shared by every test file of the run. What must happen once per run
 * (the synth, the Node 24 install) happens through {@link oncePerRun}, which works across the
 * worker processes vitest forks.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';

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

/** How long a worker waits for another worker's once-per-run step. */
const ONCE_WAIT_MS = 240_000;

/**
 * Runs `create` once per run across all test workers and returns its JSON result to everyone: the
 * first caller takes a lock folder and writes `<name>.json`; the others wait for that file (or the
 * error the first one recorded).
 */
export async function oncePerRun<T>(name: string, create: () => Promise<T>): Promise<T> {
  const dir = path.join(artifactRunDir(), 'once');
  mkdirSync(dir, { recursive: true });
  const result = path.join(dir, `${name}.json`);
  const failure = path.join(dir, `${name}.error`);
  let owner = false;
  try {
    mkdirSync(path.join(dir, `${name}.lock`));
    owner = true;
  } catch {
    owner = false;
  }
  if (owner) {
    try {
      const value = await create();
      writeFileSync(`${result}.part`, JSON.stringify(value));
      // A rename is atomic: waiters never read half a file.
      renameSync(`${result}.part`, result);
      return value;
    } catch (error) {
      writeFileSync(failure, error instanceof Error ? (error.stack ?? error.message) : String(error));
      throw error;
    }
  }
  const deadline = Date.now() + ONCE_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      return JSON.parse(readFileSync(result, 'utf8')) as T;
    } catch {
      // not there yet
    }
    try {
      throw new Error(`"${name}" failed in another test worker:\n${readFileSync(failure, 'utf8')}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await sleep(100);
  }
  throw new Error(`"${name}" did not finish in another test worker within ${ONCE_WAIT_MS / 1000} s`);
}
