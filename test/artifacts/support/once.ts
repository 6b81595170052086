/**
 * Once-per-run steps of the artifact tier across the processes of one vitest run (the global setup
 * and the test workers), through lock folders and result files in the run's folder. No vitest
 * import: the global setup runs it too.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a worker waits for another worker's once-per-run step. */
const ONCE_WAIT_MS = 240_000;

/**
 * Runs `create` once per run across all test workers and returns its JSON result to everyone: the
 * first caller takes a lock folder and writes `<name>.json`; the others wait for that file (or the
 * error the first one recorded). The first caller may be the vitest global setup, which starts the
 * synths in the background before any test file runs (`global-setup.ts`).
 */
export async function oncePerRunIn<T>(runDir: string, name: string, create: () => Promise<T>): Promise<T> {
  const dir = path.join(runDir, 'once');
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
      throw new Error(`"${name}" failed in another process of this run:\n${readFileSync(failure, 'utf8')}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await sleep(100);
  }
  throw new Error(`"${name}" did not finish in another process of this run within ${ONCE_WAIT_MS / 1000} s`);
}
