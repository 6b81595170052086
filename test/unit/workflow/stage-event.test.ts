import { describe, expect, it } from 'vitest';
import { InputError } from '../../../shared/errors.ts';
import { parseStagePayload, stageErrorMessage } from '../../../shared/workflow/stage-event.ts';

const run = {
  jobId: 'daily_sales',
  runId: 7,
  executionName: 'daily_sales-s20260101T000000Z-0123456789abcdef',
  generation: 2,
};

describe('parseStagePayload', () => {
  it('parses a run event, from an object or JSON text', () => {
    const event = { action: 'run', stage: 'main', stageIndex: 0, lastStage: true, run };
    expect(parseStagePayload(event)).toEqual(event);
    expect(parseStagePayload(JSON.stringify(event))).toEqual(event);
  });

  it('keeps only the run reference: an interval, config or input in the event is not read', () => {
    const forged = {
      action: 'run',
      stage: 'main',
      stageIndex: 0,
      run: {
        ...run,
        interval: { start: '1999-01-01T00:00:00Z', end: '1999-01-02T00:00:00Z' },
        config: { x: 1 },
      },
      input: { forged: true },
    };
    expect(parseStagePayload(forged)).toEqual({
      action: 'run',
      stage: 'main',
      stageIndex: 0,
      lastStage: false,
      run,
    });
  });

  it('parses a fail event', () => {
    const error = { Error: 'NonRetryableError', Cause: '{"errorMessage":"bad"}' };
    expect(parseStagePayload({ action: 'fail', run, error })).toEqual({ action: 'fail', run, error });
  });

  it('refuses malformed events, saying what is wrong', () => {
    const refusal =
      'stage event: "run" must be { jobId, runId, executionName, generation }: a job id, a positive integer runId, ' +
      'an execution name of 1 to 80 characters [A-Za-z0-9_-] and a generation of 0 or more';
    expect(() => parseStagePayload(null)).toThrow(/JSON object/);
    expect(() => parseStagePayload('{')).toThrow(InputError);
    expect(() => parseStagePayload({ action: 'run', stage: 'x', stageIndex: 0 })).toThrow(refusal);
    expect(() =>
      parseStagePayload({ action: 'run', stage: 'x', stageIndex: 0, run: { ...run, generation: -1 } }),
    ).toThrow(refusal);
    expect(() =>
      parseStagePayload({ action: 'run', stage: 'x', stageIndex: 0, run: { ...run, executionName: 'a:b' } }),
    ).toThrow(refusal);
    expect(() => parseStagePayload({ action: 'explode', run })).toThrow(/unknown action "explode"/);
    expect(() => parseStagePayload({ action: 'run', run })).toThrow(/"stage" and "stageIndex"/);
  });
});

describe('stageErrorMessage', () => {
  it('reads the errorMessage of a Lambda error', () => {
    const Cause = JSON.stringify({
      errorType: 'Error',
      errorMessage: 'disk full',
      trace: ['Error: disk full'],
    });
    expect(stageErrorMessage({ Error: 'Error', Cause })).toBe('disk full');
  });

  it('reads the stopped reason and exit code of an ECS task', () => {
    const Cause = JSON.stringify({
      StoppedReason: 'Essential container in task exited',
      Containers: [{ Name: 'stage', ExitCode: 3 }],
    });
    expect(stageErrorMessage({ Error: 'States.TaskFailed', Cause })).toBe(
      'Essential container in task exited; exit code 3',
    );
  });

  it('keeps a plain Cause, falls back to the error name, and truncates', () => {
    expect(stageErrorMessage({ Error: 'States.Timeout', Cause: 'took too long' })).toBe('took too long');
    expect(stageErrorMessage({ Error: 'States.Timeout', Cause: '' })).toBe('States.Timeout');
    const long = stageErrorMessage({ Error: 'Error', Cause: 'x'.repeat(5000) });
    expect(long).toHaveLength(1000);
    expect(long.endsWith('…')).toBe(true);
  });
});
