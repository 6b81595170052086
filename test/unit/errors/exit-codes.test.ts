/**
 * The `piko` CLI ends with the `exitCode` of the error that ended the command: 2 for what the user
 * must fix (the command, the configuration, the job definitions, the deployment), 1 for the rest.
 */
import { describe, expect, it } from 'vitest';
import * as errors from '../../../shared/errors.ts';

describe('PikoError.exitCode', () => {
  it('is 2 for what the user must fix', () => {
    const mustFix: errors.PikoError[] = [
      new errors.JobDefinitionError('job', ['x']),
      new errors.SinkDefinitionError('sink', ['x']),
      new errors.ScheduleError('x'),
      new errors.DurationError('x'),
      new errors.ConfigError(['x']),
      new errors.InputError('x'),
      new errors.JobPausedError('job', 'x'),
      new errors.ConfigOverrideTooLargeError('x'),
      new errors.BackfillRefusedError('x'),
      new errors.UnknownJobError('job', []),
      new errors.AwsCredentialsError('x', 'CredentialsProviderError'),
      new errors.AwsResourceNotFoundError('x', 'ResourceNotFoundException'),
      new errors.AwsTargetError('x'),
      new errors.StackNotFoundError('x'),
      new errors.StackOutputsError('x'),
      new errors.BackfillExecutionConflictError('x'),
      new errors.DispatcherRefusedError('x', 'UnknownJobError'),
    ];
    expect(mustFix.map((error) => [error.name, error.exitCode])).toEqual(
      mustFix.map((error) => [error.name, errors.EXIT.badInput]),
    );
  });

  it('is 1 for what failed, where running again may help', () => {
    const failed: errors.PikoError[] = [
      new errors.PikoError('x'),
      new errors.StoreError('x'),
      new errors.StoreUnavailableError('x'),
      new errors.StoreCorruptError('x'),
      new errors.ClockSkewError('job', 'x'),
      new errors.NonRetryableError('x'),
      new errors.TimeoutError('x'),
      new errors.AwsCallError('x', 'AccessDeniedException'),
      new errors.AwsThrottledError('x', 'ThrottlingException'),
      new errors.DispatcherFailedError('x', 'Unhandled'),
      new errors.WorkflowFailedError('States.Runtime', 'x'),
    ];
    expect(failed.map((error) => [error.name, error.exitCode])).toEqual(
      failed.map((error) => [error.name, errors.EXIT.runsFailed]),
    );
  });

  it('is the one an ExitCodeError is given', () => {
    expect(new errors.ExitCodeError(errors.EXIT.runsFailed)).toMatchObject({
      name: 'ExitCodeError',
      exitCode: 1,
      message: 'exit 1',
    });
    expect(new errors.ExitCodeError(errors.EXIT.badInput).exitCode).toBe(2);
  });

  it('keeps the AWS error name on every AWS error, declared once on AwsCallError', () => {
    const credentials = new errors.AwsCredentialsError('x', 'ExpiredToken');
    expect(credentials).toBeInstanceOf(errors.AwsCallError);
    expect(credentials.awsErrorName).toBe('ExpiredToken');
    expect(new errors.AwsResourceNotFoundError('x', 'ResourceNotFoundException').awsErrorName).toBe(
      'ResourceNotFoundException',
    );
  });
});
