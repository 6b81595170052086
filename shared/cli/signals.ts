/**
 * Ctrl-C and SIGTERM for commands that run work in a local runtime until it is done (`piko backfill`,
 * `piko run`): they stop as `piko start` does, nothing new starts and the intervals running get the
 * grace period and are recorded. A second signal ends the process at once (the handler is gone).
 */
import { ExitCodeError } from '../errors.ts';
import type { ProgressEvent } from '../local/progress.ts';
import type { LocalRuntime } from '../local/runtime.ts';

/** The exit code of a command a signal stopped: 128 + the signal's number, as a shell reports it. */
export const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** What a stop on a signal needs: the runtime, its grace period, and what to abort after it. */
export interface SignalStopOptions {
  readonly runtime: LocalRuntime;
  readonly graceSeconds: number;
  /** Aborted once the grace period is over: the handlers' `ctx.signal`. */
  readonly abortHandlers: AbortController;
  readonly print: (event: ProgressEvent) => void;
}

/**
 * Runs `work`, stopping the runtime on the first SIGINT or SIGTERM (the `stopping` event says so).
 * Once a signal came, the command ends with its exit code (130, 143) however `work` ended: stopped
 * work fails or returns early by design.
 * @throws ExitCodeError after a signal; what `work` throws otherwise.
 */
export async function stoppableBySignals<T>(options: SignalStopOptions, work: () => Promise<T>): Promise<T> {
  const { runtime, graceSeconds, abortHandlers, print } = options;
  let signalled: keyof typeof SIGNAL_EXIT | undefined;
  let stopping: Promise<unknown> | undefined;
  const stop = (signal: keyof typeof SIGNAL_EXIT) => {
    signalled = signal;
    print({
      event: 'stopping',
      text: `${signal}: no new work; running intervals get ${graceSeconds} s`,
      fields: { signal },
    });
    stopping = runtime.stop(graceSeconds * 1000, abortHandlers);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let outcome: { value: T } | { error: unknown };
  try {
    outcome = { value: await work() };
  } catch (error) {
    outcome = { error };
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await stopping;
  }
  if (signalled) throw new ExitCodeError(SIGNAL_EXIT[signalled]);
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}
