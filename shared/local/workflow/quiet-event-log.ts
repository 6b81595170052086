/**
 * aws-local-stepfunctions without its event log. Every execution, and every Map iteration (an
 * execution of its own), builds a log of events (`ExecutionStarted`, `StateEntered`…): each one an
 * `Event` dispatched on an `EventTarget`, queued, yielded by an async generator and, for a Map
 * iteration, forwarded to its parent's log, event by event. The local runtime reads none of it (the
 * executor drops it); per no-op run it cost more than the JSONPath queries (issue 11). Installed on
 * the interpreter's CommonJS build only (the one the executor loads): the ES build, which the
 * artifact tier's Step Functions endpoint and `bench/cost.ts` read the history from, is another
 * module and keeps its log. What runs, and how, is unchanged: the log is written by the
 * interpreter, never read by it.
 */

/** The interpreter's StateMachine class, as far as this reads it. */
interface InterpreterStateMachine {
  new (
    definition: object,
    options: object,
  ): {
    run(input: unknown): { result: Promise<unknown> };
    execute(...args: unknown[]): unknown;
  };
}

/** What an event log is, as far as this replaces it. */
interface EventLogPrototype {
  dispatch?: unknown;
  getEvents?: unknown;
  quiet?: true;
}

/**
 * Makes every event log of `StateMachine`'s module drop its events (`dispatch` does nothing) and
 * end at once (`getEvents` yields nothing). The log's class is not exported: it is found as the
 * logger a one-state execution is given. Idempotent.
 * @throws Error when the interpreter's logger is no longer what this replaces (a new version of
 *   aws-local-stepfunctions): update this file rather than run with a half-replaced log.
 */
export function installQuietEventLog(StateMachine: InterpreterStateMachine): void {
  const machine = new StateMachine(
    { StartAt: 'Done', States: { Done: { Type: 'Succeed' } } },
    { validationOptions: { noValidate: true } },
  );
  let logger: object | undefined;
  const execute = machine.execute;
  machine.execute = function (this: unknown, ...args: unknown[]) {
    logger = (args[1] as { eventLogger?: object } | undefined)?.eventLogger;
    return execute.apply(this, args);
  };
  // run() calls execute synchronously: the logger is known when it returns.
  machine.run({}).result.catch(() => undefined);
  const prototype = (logger && Object.getPrototypeOf(logger)) as EventLogPrototype | undefined;
  if (prototype?.quiet) return;
  if (typeof prototype?.dispatch !== 'function' || typeof prototype.getEvents !== 'function') {
    throw new Error(
      'aws-local-stepfunctions no longer gives its executions an event log with dispatch and getEvents: ' +
        'update shared/local/workflow/quiet-event-log.ts for its new version',
    );
  }
  prototype.dispatch = function dispatch() {
    // dropped: nobody reads the log
  };
  prototype.getEvents = async function* getEvents() {
    // nothing to yield
  };
  prototype.quiet = true;
}
