/**
 * aws-local-stepfunctions' Map iterations without `AbortSignal.any`. Each iteration is an execution
 * of its own whose signal the interpreter combines with its parent's (`AbortSignal.any`): in Node 20
 * a signal, a WeakRef and a FinalizationRegistry entry per item, paid again by the garbage
 * collector (about a twentieth of a no-op run, issue 11). Here an iteration runs on its own signal
 * and its parent's abort aborts it, from a listener removed once it has settled: what the combined
 * signal did (the same abort, synchronously, the same `ExecutionAbortedError`), without the weak
 * references. Installed on the CommonJS build the executor loads, next to quiet-event-log.ts.
 */
import { setMaxListeners } from 'node:events';

/** An execution as the interpreter's `run` returns it, as far as this reads it. */
interface InterpreterExecution {
  abort(): void;
  result: Promise<unknown>;
}

/** The interpreter's `run` options, as far as this reads them. */
interface RunOptions {
  _rootAbortSignal?: AbortSignal;
  [option: string]: unknown;
}

/** The interpreter's StateMachine class, as far as this replaces its `run`. */
interface InterpreterStateMachine {
  prototype: {
    run(input: unknown, options?: RunOptions): InterpreterExecution;
    iterationAbort?: true;
  };
}

/**
 * Makes `StateMachine.run` of an iteration (called with its parent's `_rootAbortSignal`) follow its
 * parent's abort by a listener instead of a combined signal. Idempotent.
 * @throws Error when `run` no longer takes the parent's signal as `_rootAbortSignal` (a new version
 *   of aws-local-stepfunctions): update this file rather than run iterations their parent cannot stop.
 */
export function installIterationAbort(StateMachine: InterpreterStateMachine): void {
  const prototype = StateMachine.prototype;
  if (prototype.iterationAbort) return;
  const run = prototype.run;
  if (typeof run !== 'function' || !run.toString().includes('_rootAbortSignal')) {
    throw new Error(
      'aws-local-stepfunctions no longer passes a Map iteration its parent signal as _rootAbortSignal: ' +
        'update shared/local/workflow/iteration-abort.ts for its new version',
    );
  }
  prototype.run = function runIteration(this: unknown, input: unknown, options?: RunOptions) {
    const parent = options?._rootAbortSignal;
    // Not an iteration, or one started after its parent aborted: as the interpreter runs it.
    if (!parent || parent.aborted) return run.call(this, input, options);
    const execution = run.call(this, input, { ...options, _rootAbortSignal: undefined });
    const onAbort = () => execution.abort();
    // As many iterations listen at once as the Map's concurrency (up to 40, or a Distributed Map's
    // translation): Node's 10-listener leak warning would be noise, not a leak.
    setMaxListeners(0, parent);
    parent.addEventListener('abort', onAbort, { once: true });
    const stopListening = () => parent.removeEventListener('abort', onAbort);
    execution.result.then(stopListening, stopListening);
    return execution;
  };
  prototype.iterationAbort = true;
}
