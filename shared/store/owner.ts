import { StageEventRefusedError } from '../errors.ts';
import type { RunOwner, RunRecord } from './types.ts';

/**
 * Why `owner` may not update `run` (another job, another execution, another generation), or
 * undefined when it may. The one comparison the stage runner and the conditional updates share.
 */
export function ownerMismatch(run: RunRecord, owner: RunOwner): string | undefined {
  if (run.jobId !== owner.jobId)
    return `run ${run.runId} belongs to job "${run.jobId}", not "${owner.jobId}"`;
  if (run.executionName !== owner.executionName) {
    const holder = run.executionName === null ? 'no execution' : `execution "${run.executionName}"`;
    return `run ${run.runId} is held by ${holder} (status ${run.status}), not by "${owner.executionName}"`;
  }
  if (run.generation !== owner.generation) {
    return `run ${run.runId} is in generation ${run.generation}, not ${owner.generation} (it was re-armed or requeued since)`;
  }
  return undefined;
}

/** The error for an event or update that `run` refuses. */
export function refused(mismatch: string): StageEventRefusedError {
  return new StageEventRefusedError(
    `Stage event refused: ${mismatch}; nothing was written. Only the execution that holds a run, in its current generation, may update it.`,
  );
}
