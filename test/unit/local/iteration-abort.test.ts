import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { loadInterpreter } from '../../../shared/local/workflow/fast-jsonpath.ts';
import { installIterationAbort } from '../../../shared/local/workflow/iteration-abort.ts';

/** A Map whose iterations wait `seconds` (a Wait state sleeps on its execution's signal). */
function mapOfWaits(seconds: number) {
  return {
    StartAt: 'Each',
    States: {
      Each: {
        Type: 'Map',
        ItemsPath: '$.items',
        ItemProcessor: {
          StartAt: 'Pause',
          States: {
            Pause: { Type: 'Wait', Seconds: seconds, Next: 'Echo' },
            Echo: { Type: 'Pass', Parameters: { 'v.$': '$' }, End: true },
          },
        },
        End: true,
      },
    },
  } as const;
}

type Run = (input: unknown, options?: { _rootAbortSignal?: AbortSignal }) => { result: Promise<unknown> };

/** Runs `work` with every Map iteration's parent signal and result recorded. */
async function watchingIterations(
  work: () => Promise<void>,
): Promise<{ parents: AbortSignal[]; results: Promise<unknown>[] }> {
  const prototype = loadInterpreter().StateMachine.prototype as unknown as { run: Run };
  const run = prototype.run;
  const parents: AbortSignal[] = [];
  const results: Promise<unknown>[] = [];
  prototype.run = function (this: unknown, input, options) {
    const execution = run.call(this, input, options);
    if (options?._rootAbortSignal) {
      parents.push(options._rootAbortSignal);
      results.push(execution.result);
    }
    return execution;
  };
  try {
    await work();
  } finally {
    prototype.run = run;
  }
  return { parents, results };
}

describe('installIterationAbort', () => {
  it('runs Map iterations to the same results and leaves no listener on their parent', async () => {
    const { StateMachine } = loadInterpreter();
    let result: unknown;
    const { parents } = await watchingIterations(async () => {
      const machine = new StateMachine(mapOfWaits(0), { validationOptions: { noValidate: true } });
      result = await machine.run({ items: [1, 2, 3] }).result;
    });
    expect(result).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }]);
    expect(parents).toHaveLength(3);
    for (const parent of parents) expect(getEventListeners(parent, 'abort')).toHaveLength(0);
  });

  it('aborts the iterations in flight when their execution is aborted, as the combined signal did', async () => {
    const { StateMachine, ExecutionAbortedError } = loadInterpreter();
    const { results } = await watchingIterations(async () => {
      // An hour's wait each: only the abort ends them within the test's timeout.
      const machine = new StateMachine(mapOfWaits(3600), { validationOptions: { noValidate: true } });
      const execution = machine.run({ items: [1, 2] });
      const rejected = expect(execution.result).rejects.toBeInstanceOf(ExecutionAbortedError);
      await new Promise((resolve) => setImmediate(resolve));
      execution.abort();
      await rejected;
    });
    expect(results).toHaveLength(2);
    for (const iteration of results) await expect(iteration).rejects.toBeInstanceOf(ExecutionAbortedError);
  });

  it('warns of no listener leak when 40 iterations listen to their parent at once', async () => {
    const { StateMachine } = loadInterpreter();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const machine = new StateMachine(
        { ...mapOfWaits(0), States: { Each: { ...mapOfWaits(0).States.Each, MaxConcurrency: 40 } } },
        { validationOptions: { noValidate: true } },
      );
      await machine.run({ items: Array.from({ length: 80 }, (_, index) => index + 1) }).result;
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('refuses an interpreter whose run takes no parent signal, rather than leave iterations unstoppable', () => {
    class Unlike {
      run() {
        return { result: Promise.resolve(null), abort() {} };
      }
    }
    expect(() => installIterationAbort(Unlike as never)).toThrow(
      /update shared\/local\/workflow\/iteration-abort.ts/,
    );
  });
});
