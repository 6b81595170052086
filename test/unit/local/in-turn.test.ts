import { describe, expect, it } from 'vitest';
import { type EndAwareStarter, startingInTurn } from '../../../shared/local/workflow/in-turn.ts';
import type { ExecutionInput, ExecutionStatus } from '../../../shared/workflow/starter.ts';

/** A starter whose executions run until the test ends them; it records every start. */
function manualStarter(running: readonly string[] = []) {
  const ends = new Map<string, () => void>();
  const ended = new Map<string, Promise<void>>();
  const started: string[] = [];
  const launch = (name: string) => {
    ended.set(
      name,
      new Promise<void>((resolve) => {
        ends.set(name, resolve);
      }),
    );
  };
  for (const name of running) launch(name);
  const starter: EndAwareStarter = {
    async start(input: ExecutionInput) {
      started.push(input.executionName);
      launch(input.executionName);
    },
    async status(_jobId: string, name: string): Promise<ExecutionStatus> {
      return ends.has(name) ? 'running' : 'absent';
    },
    whenEnded: (ref) => ended.get(ref.executionName) ?? Promise.resolve(),
  };
  const end = (name: string) => {
    ends.get(name)?.();
    ends.delete(name);
  };
  return { starter, started, end };
}

const input = (executionName: string): ExecutionInput => ({
  jobId: 'job',
  executionName,
  lane: 'backfill',
  backfillId: 'bf-1',
  runs: [],
});

/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('startingInTurn', () => {
  it('starts an execution at once when nothing ran before it in the dispatch', async () => {
    const { starter, started } = manualStarter();
    const inTurn = startingInTurn(starter, async () => true);

    await inTurn.start(input('a'));

    expect(started).toEqual(['a']);
  });

  it('starts a batch queued ahead only once the execution the dispatch found running has ended', async () => {
    const { starter, started, end } = manualStarter(['a']);
    const inTurn = startingInTurn(starter, async () => true);
    expect(await inTurn.status('job', 'a')).toBe('running');

    const starting = inTurn.start(input('b'));
    await settle();
    expect(started).toEqual([]);

    end('a');
    await starting;
    expect(started).toEqual(['b']);
  });

  it('starts two batches of one dispatch one after the other', async () => {
    const { starter, started, end } = manualStarter();
    const inTurn = startingInTurn(starter, async () => true);

    await inTurn.start(input('a'));
    const second = inTurn.start(input('b'));
    await settle();
    expect(started).toEqual(['a']);

    end('a');
    await second;
    expect(started).toEqual(['a', 'b']);
  });

  it('does not start the batch queued ahead when it may not start any more (a pause, a stop)', async () => {
    const { starter, started, end } = manualStarter(['a']);
    const asked: string[] = [];
    const inTurn = startingInTurn(starter, async (next) => {
      asked.push(next.executionName);
      return false;
    });
    await inTurn.status('job', 'a');

    const starting = inTurn.start(input('b'));
    end('a');
    await starting;

    expect(asked).toEqual(['b']);
    expect(started).toEqual([]);
  });

  it('does not wait for executions that were absent or ended', async () => {
    const { starter, started } = manualStarter();
    const inTurn = startingInTurn(starter, async () => false);
    expect(await inTurn.status('job', 'gone')).toBe('absent');

    await inTurn.start(input('b'));

    expect(started).toEqual(['b']);
  });
});
