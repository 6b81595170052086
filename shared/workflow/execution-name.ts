import { createHash } from 'node:crypto';
import type { DispatchLane, RunRecord } from '../store/types.ts';

/** Step Functions allows 80 characters in an execution name. */
export const MAX_EXECUTION_NAME_LENGTH = 80;

/**
 * The deterministic name of the execution that runs `runs`: the same runs (ids and generations) in
 * the same lane always get the same name, so starting it twice is harmless. At most 80 characters,
 * only `[A-Za-z0-9_-]` (no `:`), readable: `<job>-<s|b><first start>-<hash>`.
 */
export function executionName(jobId: string, lane: DispatchLane, runs: readonly RunRecord[]): string {
  const hash = createHash('sha256');
  hash.update(jobId);
  hash.update(lane.kind === 'backfill' ? `b:${lane.backfillId}` : 's');
  for (const run of runs) hash.update(`|${run.runId}.${run.generation}`);
  const first = runs[0]?.interval.start.toISOString() ?? '';
  const compactStart = first.replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  const name = `${jobId}-${lane.kind === 'backfill' ? 'b' : 's'}${compactStart}-${hash.digest('hex').slice(0, 16)}`;
  return name.slice(0, MAX_EXECUTION_NAME_LENGTH);
}

/**
 * The name of the execution that wakes a job at `wake` (it holds no runs): `<job>-w<wake>-<hash>`,
 * the same for the same job and instant, so two dispatchers that decide the same wake start one.
 */
export function wakeExecutionName(jobId: string, wake: Date): string {
  const iso = wake.toISOString();
  const hash = createHash('sha256').update(`${jobId}|w|${iso}`).digest('hex').slice(0, 16);
  const compact = iso.replace(/[-:]/g, '').replace('.', '');
  const suffix = `-w${compact}-${hash}`;
  // A long job id is cut, never the instant or the hash that make the name unique.
  return `${jobId.slice(0, MAX_EXECUTION_NAME_LENGTH - suffix.length)}${suffix}`;
}
