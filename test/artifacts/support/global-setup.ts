/**
 * Vitest global setup of the artifact tier: creates the run's temporary folder (outside the
 * repository) and removes it after the run. In a run that includes artifact test files, it also
 * starts the tier's two synths (the real app, then the fixture app) in the background at once, as
 * their once-per-run steps (`once.ts`): vitest runs one test file at a time on this 2-core machine,
 * so the synths use the idle core while other files run, and the artifact files find them done.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { oncePerRunIn } from './once.ts';
import { FIXTURE_SYNTH_STEP, SYNTH_STEP, synthesize, synthesizeFixture } from './synth-process.ts';

/** Creates the run folder and provides it to the tests; the returned function cleans up. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'piko-artifacts-'));
  project.provide('pikoArtifactRun', dir);
  const stop = new AbortController();
  const synths = (await runIncludesArtifacts(project))
    ? synthesizeInBackground(dir, stop.signal)
    : Promise.resolve();
  return async () => {
    // A run that ended before the synths did (filtered, or failed early) kills them, then cleans up.
    stop.abort();
    await synths;
    // Servers a test file could not stop (a crashed worker) are recorded here.
    const pids = path.join(dir, 'pids');
    for (const name of safeList(pids)) {
      const pid = Number(readFileSync(path.join(pids, name), 'utf8'));
      try {
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * The two synths one after the other (two at once beside a test file would take both cores), each
 * as its once-per-run step: a test that needs one waits for it, and sees its error if it failed.
 * Never rejects: the failure is the step's, recorded for the tests that need it.
 */
async function synthesizeInBackground(dir: string, signal: AbortSignal): Promise<void> {
  await oncePerRunIn(dir, SYNTH_STEP, () => synthesize(dir, signal)).catch(() => undefined);
  if (signal.aborted) return;
  await oncePerRunIn(dir, FIXTURE_SYNTH_STEP, () => synthesizeFixture(dir, signal)).catch(() => undefined);
}

/**
 * Whether this run's test files include one of `test/artifacts/`. The file filters of the command
 * line are vitest's `filenamePattern` (not in its typings): when it cannot be read, assume a whole
 * run (the synths then run in the background of a run that may not need them: time, not a failure).
 */
async function runIncludesArtifacts(project: TestProject): Promise<boolean> {
  const pattern = (project.vitest as unknown as { filenamePattern?: unknown }).filenamePattern;
  const filters = Array.isArray(pattern) ? pattern.filter((item) => typeof item === 'string') : undefined;
  const { testFiles } = await project.globTestFiles(filters);
  const artifacts = path.join(project.config.root, 'test', 'artifacts') + path.sep;
  return testFiles.some((file) => file.startsWith(artifacts));
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
