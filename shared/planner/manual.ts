import { BackfillRefusedError, InputError, JobPausedError, StoreError } from '../errors.ts';
import type { Interval } from '../interval.ts';
import type { JobDefinition } from '../job.ts';
import type { RunRecord, StateStore } from '../store/types.ts';
import { executionName } from '../workflow/execution-name.ts';
import type { ExecutionInput, WorkflowStarter } from '../workflow/starter.ts';
import { validateBackfill } from './backfill.ts';
import type { OperatorRequest } from './backfill-control.ts';
import { executionInput } from './dispatch.ts';
import { latestIntervalEndingBy } from './scheduled.ts';

/** The interval a manual run runs, and its checked config override. */
export interface ManualRunTarget {
  readonly interval: Interval;
  readonly config: unknown;
}

/** What runs a manual run's execution and says when it has ended (the local runtime is one). */
export interface IntervalRunner {
  /**
   * Starts the manual run of one interval ({@link dispatchManualRun}) in an execution of its own,
   * recorded as an operator's action when `request` says whose. @default request none: not recorded
   */
  runInterval(
    job: JobDefinition,
    interval: Interval,
    config: unknown,
    request?: OperatorRequest,
  ): Promise<void>;
  /** Resolves when no execution it started is running. */
  whenIdle(): Promise<void>;
}

/**
 * What `piko run` runs: the latest interval of the job ending at or before `at`, with `config`
 * checked against the job's schema (as a backfill of that one interval would be).
 * @throws InputError when no interval ends by `at` or the config is refused; BackfillRefusedError when
 *   the interval ends after `now`.
 */
export function manualRunTarget(job: JobDefinition, at: Date, config: unknown, now: Date): ManualRunTarget {
  if (at.getTime() > now.getTime()) {
    // Said of the instant asked for (--at), not of the backfill of one interval it checks below.
    throw new BackfillRefusedError(
      `Run refused: ${at.toISOString()} is in the future (now is ${now.toISOString()}); a manual run takes the latest interval that has ended at or before it`,
    );
  }
  const interval = latestIntervalEndingBy(job, at);
  if (!interval)
    throw new InputError(`Job "${job.id}" has no interval ending at or before ${at.toISOString()}`);
  const checked = validateBackfill(
    job,
    { jobId: job.id, from: interval.start, to: interval.end, config },
    now,
  );
  return { interval, config: checked };
}

/**
 * Runs `target` now as a manual run through `runner` and waits for its execution to end. Returns its
 * run as it then is: `succeeded`, `failed`, or still `queued` when the job was paused before its
 * stage started (it runs after resume).
 * @throws the errors of {@link dispatchManualRun}.
 */
export async function runManually(
  store: StateStore,
  job: JobDefinition,
  target: ManualRunTarget,
  runner: IntervalRunner,
  request?: OperatorRequest,
): Promise<RunRecord | undefined> {
  await runner.runInterval(job, target.interval, target.config, request);
  await runner.whenIdle();
  const { start } = target.interval;
  const [run] = await store.listRuns(job.id, { from: start, to: new Date(start.getTime() + 1) });
  return run;
}

/**
 * Starts a manual run of one interval (`piko run`): in one transaction holding the job's row lock,
 * refuses a paused job, creates the interval's run (or re-arms a finished one) with the config
 * override, and queues that run alone; then starts its execution. The execution's lane is `manual`,
 * so it does not go on with the job's backlog: a manual run runs its own interval and nothing else.
 * With `request` (an operator's), it is recorded in `piko_actions` as `run` (a new run) or `rerun`.
 * @throws JobPausedError when the job is paused; InputError when the interval is already pending,
 *   queued or running.
 */
export async function dispatchManualRun(
  store: StateStore,
  job: JobDefinition,
  interval: Interval,
  config: unknown,
  starter: WorkflowStarter,
  request?: OperatorRequest,
): Promise<ExecutionInput> {
  const lane = { kind: 'scheduled' } as const;
  const oneInterval = (): [Date, Date] => [interval.start, new Date(interval.start.getTime() + 1)];
  const input = await store.withJob(job, async (tx) => {
    if (tx.job.paused) throw new JobPausedError(job.id, 'a manual run');
    const [existing] = await tx.runsInRange(...oneInterval());
    const manual = { trigger: 'manual' as const, backfillId: null, config };
    if (!existing) await tx.insertRuns([{ interval, ...manual }]);
    else if (!['pending', 'queued', 'running'].includes(existing.status))
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
    // An operator's run now or rerun, recorded with who and why in the transaction that makes it.
    if (request) {
      await tx.recordAction({
        kind: existing ? 'rerun' : 'run',
        target: interval.start.toISOString(),
        actor: request.actor,
        reason: request.reason ?? null,
        details: { runId: run.runId, generation: run.generation, configOverride: config !== null },
      });
    }
    return { ...executionInput(job.id, name, lane, [run]), lane: 'manual' as const };
  });
  await starter.start(input);
  return input;
}
