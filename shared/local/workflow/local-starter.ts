import { setMaxListeners } from 'node:events';
import { WorkflowAbortedError } from '../../errors.ts';
import type { ExecutionInput, ExecutionStatus, WorkflowStarter } from '../../workflow/starter.ts';
import { type BindingContext, runWorkflow, type WorkflowBindings } from './executor.ts';

/** How an execution ended. */
export interface ExecutionEnd {
  readonly input: ExecutionInput;
  readonly outcome: 'succeeded' | 'failed' | 'aborted';
  /** The error of a failed execution. */
  readonly error?: unknown;
  readonly durationMs: number;
}

export interface LocalWorkflowStarterOptions {
  /** The ASL of a job's workflow (for example `renderJobWorkflow(job, { dataDir })`). */
  workflowOf(jobId: string): string | Promise<string>;
  readonly bindings: WorkflowBindings;
  /** Retries without waiting (tests). @default false */
  readonly noRetryWaits?: boolean;
  /** Called once per execution, after it ended and before its dispatcher continuation runs. */
  readonly onExecutionEnd?: (end: ExecutionEnd) => void;
  /** Called when a deferred `continueDispatch` fails (as on AWS, it does not fail the execution). */
  readonly onContinueError?: (error: unknown, jobId: string) => void;
  /** Ended executions remembered for `status()` and idempotent starts. @default 10000 */
  readonly historySize?: number;
}

interface Execution {
  readonly controller: AbortController;
  ended: boolean;
  /** Resolves once it has ended. */
  readonly done: Promise<void>;
  readonly markDone: () => void;
}

function newExecution(): Execution {
  let markDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    markDone = resolve;
  });
  const controller = new AbortController();
  // Every Map iteration in flight may listen to it (a stage waiting for its lease, say): as many as
  // the job's concurrency, so Node's 10-listener leak warning would be noise, not a leak.
  setMaxListeners(0, controller.signal);
  return { controller, ended: false, done, markDone };
}

/**
 * A {@link WorkflowStarter} that runs job workflows in process, through aws-local-stepfunctions.
 *
 * Executions are kept by job and name: starting a known name again does nothing, as in Step Functions.
 * The "Continue dispatch" step is deferred until the execution has ended, so the dispatcher it
 * triggers always sees that execution as `ended` (as the AWS dispatcher takes the execution that asks
 * for ended, by its name); it answers nothing, so the workflow never waits for requeued runs here:
 * the local runtime has its own timer for them.
 */
export class LocalWorkflowStarter implements WorkflowStarter {
  readonly #options: LocalWorkflowStarterOptions;
  readonly #executions = new Map<string, Execution>();
  readonly #ended: string[] = [];
  #active = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(options: LocalWorkflowStarterOptions) {
    this.#options = options;
  }

  async start(input: ExecutionInput): Promise<void> {
    const key = executionKey(input.jobId, input.executionName);
    if (this.#executions.has(key)) return;
    const execution = newExecution();
    this.#executions.set(key, execution);
    let asl: string;
    try {
      asl = await this.#options.workflowOf(input.jobId);
    } catch (error) {
      this.#executions.delete(key);
      throw error;
    }
    this.#active++;
    void this.#run(key, execution, asl, input);
  }

  async status(jobId: string, executionName: string): Promise<ExecutionStatus> {
    const execution = this.#executions.get(executionKey(jobId, executionName));
    if (!execution) return 'absent';
    return execution.ended ? 'ended' : 'running';
  }

  /** Resolves once the execution has ended here; at once when it is not running here. */
  whenEnded(jobId: string, executionName: string): Promise<void> {
    const execution = this.#executions.get(executionKey(jobId, executionName));
    return !execution || execution.ended ? Promise.resolve() : execution.done;
  }

  /** Executions running now. */
  get running(): number {
    let count = 0;
    for (const execution of this.#executions.values()) if (!execution.ended) count++;
    return count;
  }

  /** Resolves when no execution is running and no dispatcher continuation is in flight. */
  whenIdle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Aborts every running execution: no new state starts; stages already running finish (wait with
   * `whenIdle()`), and their runs are left for the next start to pick up.
   */
  abortAll(): void {
    for (const execution of this.#executions.values()) {
      if (!execution.ended) execution.controller.abort();
    }
  }

  /**
   * Aborts one running execution as {@link abortAll} does: no new state of it starts. False when it
   * is not running here.
   */
  abort(jobId: string, executionName: string): boolean {
    const execution = this.#executions.get(executionKey(jobId, executionName));
    if (!execution || execution.ended) return false;
    execution.controller.abort();
    return true;
  }

  /**
   * Forgets an ended execution, so that its status is `absent` again and starting it runs it anew
   * (after it was aborted here and its work may be resumed, here or elsewhere). False when it is not
   * an ended execution of this starter.
   */
  forget(jobId: string, executionName: string): boolean {
    const key = executionKey(jobId, executionName);
    if (!this.#executions.get(key)?.ended) return false;
    this.#executions.delete(key);
    const index = this.#ended.indexOf(key);
    if (index >= 0) this.#ended.splice(index, 1);
    return true;
  }

  async #run(key: string, execution: Execution, asl: string, input: ExecutionInput): Promise<void> {
    const startedAt = performance.now();
    const continuations: string[] = [];
    const bindings: WorkflowBindings = {
      invokeStage: (payload, context) => this.#options.bindings.invokeStage(payload, context),
      runFargateTask: (request, context) => this.#options.bindings.runFargateTask(request, context),
      // Run once the execution has ended; the answer carries no `wakeAt` (see the class comment).
      continueDispatch: async (jobId: string, _context: BindingContext) => {
        continuations.push(jobId);
      },
    };
    let end: ExecutionEnd;
    try {
      await runWorkflow(asl, input, bindings, {
        signal: execution.controller.signal,
        noRetryWaits: this.#options.noRetryWaits,
      });
      end = { input, outcome: 'succeeded', durationMs: performance.now() - startedAt };
    } catch (error) {
      const outcome = error instanceof WorkflowAbortedError ? 'aborted' : 'failed';
      end = { input, outcome, error, durationMs: performance.now() - startedAt };
    }
    execution.ended = true;
    execution.markDone();
    this.#remember(key);
    try {
      this.#options.onExecutionEnd?.(end);
    } catch {
      // A faulty hook must not stop the bookkeeping.
    }
    for (const jobId of continuations) {
      try {
        await this.#options.bindings.continueDispatch(jobId, {
          stateName: 'Continue dispatch',
          signal: execution.controller.signal,
        });
      } catch (error) {
        this.#options.onContinueError?.(error, jobId);
      }
    }
    this.#active--;
    if (this.#active === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Keeps at most `historySize` ended executions. */
  #remember(key: string): void {
    this.#ended.push(key);
    const limit = this.#options.historySize ?? 10_000;
    while (this.#ended.length > limit) {
      const oldest = this.#ended.shift();
      if (oldest !== undefined) this.#executions.delete(oldest);
    }
  }
}

function executionKey(jobId: string, executionName: string): string {
  return `${jobId}\u0000${executionName}`;
}
