/**
 * Ctrl-C and SIGTERM for commands that run work in a local runtime until it is done (`piko backfill`,
 * `piko run`): they stop as `piko start` does, nothing new starts and the intervals running get the
 * grace period and are recorded. A second signal ends the process at once (the handler is gone).
 */

import type { ProgressEvent } from '../local/progress.ts';
import type { LocalRuntime } from '../local/runtime.ts';

/** The exit code of a command a signal stopped: 128 + the signal's number, as a shell reports it. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** What {@link stopOnSignals} saw; `dispose` removes its handlers and waits for a stop it began. */
export interface SignalStop {
  /** The exit code of the signal that stopped the runtime, undefined when none came. */
  exitCode(): number | undefined;
  dispose(): Promise<void>;
}

/** Stops `runtime` (within `graceSeconds`, then `abortHandlers`) on the first SIGINT or SIGTERM. */
export function stopOnSignals(
  runtime: LocalRuntime,
  graceSeconds: number,
  abortHandlers: AbortController,
  print: (event: ProgressEvent) => void,
): SignalStop {
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
  return {
    exitCode: () => (signalled ? SIGNAL_EXIT[signalled] : undefined),
    async dispose() {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await stopping;
    },
  };
}
