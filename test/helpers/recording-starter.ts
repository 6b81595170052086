import type { ExecutionInput, ExecutionStatus, WorkflowStarter } from '../../shared/workflow/starter.ts';

/** A WorkflowStarter that records what it was asked to start; statuses are set by the test. */
export class RecordingStarter implements WorkflowStarter {
  /** Distinct executions started, in order (a second start of a name starts nothing, as in Step Functions). */
  readonly started: ExecutionInput[] = [];
  /** Every start call, duplicates included. */
  startCalls = 0;
  readonly statuses = new Map<string, ExecutionStatus>();
  /** Start calls fail with this error while set. */
  failWith: Error | undefined;

  async start(input: ExecutionInput): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.startCalls++;
    if (this.started.some((known) => known.executionName === input.executionName)) return;
    this.started.push(input);
    this.statuses.set(input.executionName, 'running');
  }

  async status(_jobId: string, executionName: string): Promise<ExecutionStatus> {
    return this.statuses.get(executionName) ?? 'absent';
  }

  /** Marks every started execution ended. */
  endAll(): void {
    for (const name of this.statuses.keys()) this.statuses.set(name, 'ended');
  }
}
