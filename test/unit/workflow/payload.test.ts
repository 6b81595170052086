import { describe, expect, it } from 'vitest';
import { parseStagePayload, stageErrorMessage } from '../../../shared/local/workflow/payload.ts';

const run = {
  jobId: 'daily_sales',
  runId: 7,
  interval: { start: '2026-01-01T00:00:00.000Z', end: '2026-01-02T00:00:00.000Z' },
  config: null,
};

describe('parseStagePayload', () => {
  it('parses a run event, from an object or JSON text', () => {
    const event = { action: 'run', stage: 'main', stageIndex: 0, lastStage: true, run, input: null };
    expect(parseStagePayload(event)).toEqual(event);
    expect(parseStagePayload(JSON.stringify({ ...event, input: { a: 1 }, inputFromStore: true }))).toEqual({
      ...event,
      input: { a: 1 },
      inputFromStore: true,
    });
  });

  it('reads a missing input or config as null', () => {
    const { config: _config, ...withoutConfig } = run;
    expect(parseStagePayload({ action: 'run', stage: 'main', stageIndex: 0, run: withoutConfig })).toEqual({
      action: 'run',
      stage: 'main',
      stageIndex: 0,
      lastStage: false,
      run,
      input: null,
    });
  });

  it('parses a fail event', () => {
    const error = { Error: 'NonRetryableError', Cause: '{"errorMessage":"bad"}' };
    expect(parseStagePayload({ action: 'fail', run, error })).toEqual({ action: 'fail', run, error });
  });

  it('refuses malformed events, saying what is wrong', () => {
    expect(() => parseStagePayload(null)).toThrow(/JSON object/);
    expect(() => parseStagePayload({ action: 'run', stage: 'x', stageIndex: 0 })).toThrow(/"run" must be/);
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
