import { InputError, JobPausedError, StoreError } from '../errors.ts';
import type { Interval } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import type { StateStore } from '../store/types.ts';
import { executionName } from '../workflow/execution-name.ts';
import type { ExecutionInput, WorkflowStarter } from '../workflow/starter.ts';
import { executionInput } from './dispatch.ts';

/**
 * Starts a manual run of one interval (`piko run`): in one transaction holding the job's row lock,
 * refuses a paused job, creates the interval's run (or re-arms a finished one) with the config
 * override, and queues that run alone; then starts its execution. The execution's lane is `manual`,
 * so it does not go on with the job's backlog: a manual run runs its own interval and nothing else.
 * @throws JobPausedError when the job is paused; InputError when the interval is already pending,
 *   queued or running.
 */
export async function dispatchManualRun(
  store: StateStore,
  job: JobDefinition,
  interval: Interval,
  config: unknown,
  starter: WorkflowStarter,
): Promise<ExecutionInput> {
  const lane = { kind: 'scheduled' } as const;
  const oneInterval = (): [Date, Date] => [interval.start, new Date(interval.start.getTime() + 1)];
  const input = await store.withJob(job, async (tx) => {
    if (tx.job.paused) throw new JobPausedError(job.id, 'a manual run');
    const [existing] = await tx.runsInRange(...oneInterval());
    const manual = { trigger: 'manual' as const, backfillId: null, config };
    if (!existing) await tx.insertRuns([{ interval, ...manual }]);
    else if (existing.status === 'succeeded' || existing.status === 'failed')
      await tx.rearmRuns([existing.runId], manual);
    else {
      throw new InputError(
        `The interval ${interval.start.toISOString()} → ${interval.end.toISOString()} of "${job.id}" is already ${existing.status}; wait for it to finish`,
      );
    }
    const [run] = await tx.runsInRange(...oneInterval());
    if (!run)
      throw new StoreError(`The run of ${interval.start.toISOString()} of "${job.id}" was not created.`);
    const name = executionName(job.id, lane, [run]);
    await tx.markQueued([run.runId], name);
    return { ...executionInput(job.id, name, lane, [run]), lane: 'manual' as const };
  });
  await starter.start(input);
  return input;
}
