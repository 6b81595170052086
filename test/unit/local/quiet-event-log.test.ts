import { StateMachine as EsmStateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { loadInterpreter } from '../../../shared/local/workflow/fast-jsonpath.ts';
import { installQuietEventLog } from '../../../shared/local/workflow/quiet-event-log.ts';

const definition = {
  StartAt: 'Each',
  States: {
    Each: {
      Type: 'Map',
      ItemsPath: '$.items',
      ItemProcessor: {
        StartAt: 'Double',
        States: { Double: { Type: 'Pass', Parameters: { 'v.$': '$' }, End: true } },
      },
      End: true,
    },
  },
} as const;

async function collect(events: AsyncIterable<unknown>): Promise<unknown[]> {
  const seen: unknown[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

describe('installQuietEventLog', () => {
  it('leaves the executor’s interpreter without an event log and its results unchanged; the ES build keeps its log', async () => {
    const { StateMachine } = loadInterpreter();
    const quiet = new StateMachine(definition, { validationOptions: { noValidate: true } }).run({
      items: [1, 2, 3],
    });
    const [quietEvents, quietResult] = await Promise.all([collect(quiet.eventLogs), quiet.result]);
    expect(quietEvents).toEqual([]);

    const logged = new EsmStateMachine(definition, { validationOptions: { noValidate: true } }).run({
      items: [1, 2, 3],
    });
    const [events, result] = await Promise.all([collect(logged.eventLogs), logged.result]);
    expect(result).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }]);
    expect(quietResult).toEqual(result);
    expect(events.length).toBeGreaterThan(10);
  });

  it('refuses an interpreter whose executions have no such log, rather than half replace it', () => {
    class Unlike {
      run() {
        this.execute();
        return { result: Promise.resolve(null) };
      }
      execute(): void {}
    }
    expect(() => installQuietEventLog(Unlike as never)).toThrow(
      /update shared\/local\/workflow\/quiet-event-log.ts/,
    );
  });
});
