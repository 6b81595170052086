/**
 * The records runs were queued with, kept by the store that queued them until their first stage
 * starts: a stage run in the same process (the local runtime) then starts its run from that record
 * instead of reading it again, one statement fewer per run (issue 11).
 *
 * A hint may be stale (an operator cancelled the run since, a pause, another runtime): nothing
 * depends on it being current. The start from a record is one UPDATE conditional on the row being
 * still what the record says (status, attempts, stage, owner, last update); when it matches no row,
 * the store marks the run by id and reads it, as it does for any record that changed since its read.
 */
import type { RunOwner, RunRecord } from '../types.ts';

/**
 * The most hints kept (about half a kilobyte each): past it the oldest are dropped, and their runs
 * are read when they start. Ten jobs at concurrency 5,000 queue 50,000 at most at once.
 */
export const MAX_START_HINTS = 50_000;

/** Records of runs as queued here, each taken at most once. */
export class StartHints {
  readonly #records = new Map<number, RunRecord>();

  /** Keeps the records of runs a committed transaction queued. */
  add(records: readonly RunRecord[]): void {
    for (const record of records) {
      this.#records.delete(record.runId);
      this.#records.set(record.runId, record);
    }
    // A Map iterates in insertion order: the first keys are the oldest hints.
    for (const runId of this.#records.keys()) {
      if (this.#records.size <= MAX_START_HINTS) break;
      this.#records.delete(runId);
    }
  }

  /** The record run `runId` was queued with under `owner`, once; undefined when there is none. */
  take(runId: number, owner: RunOwner): RunRecord | undefined {
    const record = this.#records.get(runId);
    if (record === undefined) return undefined;
    this.#records.delete(runId);
    const owned =
      record.jobId === owner.jobId &&
      record.executionName === owner.executionName &&
      record.generation === owner.generation;
    return owned ? record : undefined;
  }
}
