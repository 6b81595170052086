/**
 * The starter of one queue-ahead dispatch (`dispatch`'s `queueAhead`): a backfill's next batch is
 * queued while its current one runs, and started only once that one has ended, so the lane never
 * runs more than one execution at once while the queuing of the next batch costs no time between
 * the two.
 */
import type { ExecutionRef } from '../../store/leases.ts';
import type { ExecutionInput, ExecutionStatus, WorkflowStarter } from '../../workflow/starter.ts';

/** A starter that can say when an execution it knows of has ended (LeasedWorkflowStarter). */
export interface EndAwareStarter extends WorkflowStarter {
  /** Resolves once the execution runs neither here nor in another live runtime. */
  whenEnded(ref: ExecutionRef): Promise<void>;
}

/**
 * `starter` for one dispatch whose executions start in turn: each start waits until every execution
 * the dispatch found running ({@link WorkflowStarter.status}) or started before it has ended, then
 * asks `mayStart` (the runtime may be stopping, the backfill paused or cancelled meanwhile). Not
 * started, its runs stay queued under its name, and the lane's next dispatch restarts them, as after
 * a crash between queuing and starting.
 */
export function startingInTurn(
  starter: EndAwareStarter,
  mayStart: (input: ExecutionInput) => Promise<boolean>,
): WorkflowStarter {
  const before: ExecutionRef[] = [];
  return {
    async status(jobId: string, executionName: string): Promise<ExecutionStatus> {
      const status = await starter.status(jobId, executionName);
      if (status === 'running') before.push({ jobId, executionName });
      return status;
    },
    async start(input: ExecutionInput): Promise<void> {
      const ahead = [...before];
      before.push({ jobId: input.jobId, executionName: input.executionName });
      if (ahead.length > 0) {
        await Promise.all(ahead.map((ref) => starter.whenEnded(ref)));
        if (!(await mayStart(input))) return;
      }
      await starter.start(input);
    },
  };
}
