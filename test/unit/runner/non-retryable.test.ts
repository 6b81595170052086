/**
 * Non-retryable errors keep their class's meaning whatever their own name: the stage runner reports
 * every `instanceof NonRetryableError` under the one name the workflow's Retry matches (MaxAttempts 0).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { NON_RETRYABLE_ERRORS } from '../../../infra/constructs/job-workflow.ts';
import {
  NON_RETRYABLE_ERROR_NAMES,
  NonRetryableError,
  RecordValidationError,
  StageEventRefusedError,
  StoreUnavailableError,
  workflowErrorName,
} from '../../../shared/errors.ts';
import { runWorkflow, type WorkflowBindings } from '../../../shared/local/workflow/executor.ts';
import { renderJobWorkflow } from '../../../shared/local/workflow/render.ts';
import { withoutSecrets } from '../../../shared/telemetry.ts';
import type { StagePayload } from '../../../shared/workflow/stage-event.ts';
import { executionInput, singleStageJob } from '../workflow/jobs.ts';

/** A job's own subclass with its own name, as the docs allow. */
class CorruptInputError extends NonRetryableError {
  override name = 'CorruptInputError';
}

describe('workflowErrorName and withoutSecrets', () => {
  it('report a subclass of NonRetryableError as NonRetryableError, its own name leading the message', () => {
    const invalid = new RecordValidationError('sale', ['field "amount": expected number, received string']);
    const safe = withoutSecrets(invalid);
    expect(safe.name).toBe('NonRetryableError');
    expect(safe.message).toBe(
      'RecordValidationError: Invalid "sale" record: field "amount": expected number, received string',
    );
    expect(workflowErrorName(new CorruptInputError('bad'))).toBe('NonRetryableError');
    expect(withoutSecrets(new CorruptInputError('bad')).message).toBe('CorruptInputError: bad');
  });

  it('leave the names of other errors, and of the classes themselves, as they are', () => {
    expect(withoutSecrets(new NonRetryableError('x'))).toMatchObject({
      name: 'NonRetryableError',
      message: 'x',
    });
    expect(withoutSecrets(new StageEventRefusedError('x'))).toMatchObject({
      name: 'StageEventRefusedError',
      message: 'x',
    });
    expect(withoutSecrets(new StoreUnavailableError('x'))).toMatchObject({
      name: 'StoreUnavailableError',
      message: 'x',
    });
    // Applied twice (the stage runner, then the Lambda entry): the same error.
    const twice = withoutSecrets(withoutSecrets(new CorruptInputError('bad')));
    expect(twice).toMatchObject({ name: 'NonRetryableError', message: 'CorruptInputError: bad' });
  });

  it('with `described`, carry the whole description (name, message, causes) without secrets, as the dispatcher answers', () => {
    const error = new CorruptInputError('bad', { cause: new Error('password=hunter22 refused') });
    expect(withoutSecrets(error, { described: true })).toMatchObject({
      name: 'NonRetryableError',
      message: 'CorruptInputError: bad (cause: password=<redacted> refused)',
    });
    expect(withoutSecrets(new StoreUnavailableError('down'), { described: true })).toMatchObject({
      name: 'StoreUnavailableError',
      message: 'StoreUnavailableError: down',
    });
  });

  it('the workflow never retries exactly the names the errors module gives', () => {
    expect(NON_RETRYABLE_ERRORS).toEqual(['NonRetryableError', 'StageEventRefusedError']);
    expect(NON_RETRYABLE_ERRORS).toEqual([...NON_RETRYABLE_ERROR_NAMES]);
  });
});

describe('the rendered job workflow', () => {
  let asl: string;
  beforeAll(async () => {
    asl = await renderJobWorkflow(singleStageJob);
  });

  it('runs a stage that throws an invalid record once, though its policy allows 3 attempts', async () => {
    const calls: StagePayload[] = [];
    const bindings: WorkflowBindings = {
      async invokeStage(payload) {
        calls.push(payload);
        if (payload.action === 'fail') return { recorded: true };
        // What the stage runner throws for a handler's error.
        throw withoutSecrets(new RecordValidationError('sale', ['field "amount": expected number']));
      },
      async runFargateTask() {},
      async continueDispatch() {},
    };
    await runWorkflow(asl, executionInput(singleStageJob, 1), bindings, { noRetryWaits: true });
    expect(calls.map((call) => call.action)).toEqual(['run', 'fail']);
    const fail = calls[1];
    if (fail?.action !== 'fail') throw new Error('no fail call');
    expect(fail.error.Error).toBe('NonRetryableError');
  });
});
