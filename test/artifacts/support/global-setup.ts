/**
 * Vitest global setup of the artifact tier: creates the run's temporary folder (outside the
 * repository) and removes it after the run. Cheap: the synth and the servers start lazily, only in
 * runs that include artifact tests.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

/** Creates the run folder and provides it to the tests; the returned function cleans up. */
export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(path.join(tmpdir(), 'piko-artifacts-'));
  project.provide('pikoArtifactRun', dir);
  return () => {
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

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
