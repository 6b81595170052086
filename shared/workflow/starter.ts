/**
 * The workflow contract (`shared/workflow/`): what travels between the planner, the job workflow's
 * state machine and the stage runners, the same on AWS and locally. Here the execution input and the
 * `WorkflowStarter` port; beside it the stage events (`stage-event.ts`), execution names
 * (`execution-name.ts`) and the ASL token handling that turns a synthesized definition into runnable
 * text (`asl-tokens.ts`). Pure data and functions: it may import the store's types and the interval
 * model, never a runtime, the AWS SDK or aws-cdk-lib (infra and both runtimes import it).
 */
import type { IntervalJson } from '../interval.ts';
import type { DispatchLane } from '../store/types.ts';

/**
 * One run as it travels in a workflow execution's input: which run, in which generation. The stage
 * runner reads everything else from the state store; the interval is here for people reading the
 * execution in the console (and the lag metric), never trusted. Bounded in size (no config), so a
 * batch's size does not depend on the config override.
 */
export interface RunItem {
  readonly runId: number;
  readonly generation: number;
  readonly interval: IntervalJson;
}

/** The input of one job workflow execution: a batch of runs. */
export interface ExecutionInput {
  readonly jobId: string;
  readonly executionName: string;
  /**
   * `'scheduled'`, `'backfill'`, or `'manual'` (one manual run, `piko run`); only a scheduled
   * execution asks the dispatcher to go on when it ends.
   */
  readonly lane: DispatchLane['kind'] | 'manual';
  readonly backfillId: string | null;
  readonly runs: readonly RunItem[];
}

/** What the planner knows of an execution. */
export type ExecutionStatus = 'running' | 'ended' | 'absent';

/**
 * Starts job workflow executions. Step Functions on AWS, aws-local-stepfunctions locally.
 * Both must be idempotent by name: starting the same name with the same input twice starts one.
 */
export interface WorkflowStarter {
  /** Starts the execution `input.executionName`, or does nothing if it already exists. */
  start(input: ExecutionInput): Promise<void>;
  /** Whether the named execution is running, has ended, or is unknown. */
  status(jobId: string, executionName: string): Promise<ExecutionStatus>;
}

/** Where a stack's job state machines are: `arn:<partition>:states:<region>:<account>:stateMachine:<prefix>-<jobId>`. */
export interface JobStateMachines {
  /** The ARN of a job's state machine. */
  stateMachineArn(jobId: string): string;
  /** The ARN of one execution of a job's state machine. */
  executionArn(jobId: string, executionName: string): string;
}
