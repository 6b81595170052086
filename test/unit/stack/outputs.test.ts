import { describe, expect, it } from 'vitest';
import { jobStateMachineName, parseStackOutputs, STACK_OUTPUT_NAMES } from '../../../shared/stack/outputs.ts';

describe('stack outputs', () => {
  it('reads every output the CLI needs', () => {
    const outputs = Object.values(STACK_OUTPUT_NAMES).map((key) => ({
      OutputKey: key,
      OutputValue: `value of ${key}`,
    }));
    expect(parseStackOutputs('Piko', outputs)).toEqual({
      dispatcherFunctionName: 'value of DispatcherFunctionName',
      backfillStateMachineArn: 'value of BackfillStateMachineArn',
      scheduleGroupName: 'value of ScheduleGroupName',
      jobStateMachinePrefix: 'value of JobStateMachinePrefix',
      region: 'value of Region',
    });
  });

  it('reads the optional log groups by job, and refuses a malformed one', () => {
    const outputs = Object.values(STACK_OUTPUT_NAMES).map((key) => ({ OutputKey: key, OutputValue: 'x' }));
    expect(
      parseStackOutputs('Piko', [
        ...outputs,
        { OutputKey: 'JobLogGroups', OutputValue: '{"daily":["/aws/lambda/a","piko-fargate"]}' },
      ]).jobLogGroups,
    ).toEqual({ daily: ['/aws/lambda/a', 'piko-fargate'] });
    expect(parseStackOutputs('Piko', outputs).jobLogGroups).toBeUndefined();
    expect(() =>
      parseStackOutputs('Piko', [...outputs, { OutputKey: 'JobLogGroups', OutputValue: '["a"]' }]),
    ).toThrow(
      'Stack "Piko" has an output JobLogGroups that is not a JSON object of log group names by job id: deploy it again with this version (npx cdk deploy)',
    );
  });

  it('names every missing output and the stack', () => {
    expect(() => parseStackOutputs('Other', [{ OutputKey: 'Region', OutputValue: 'eu-west-1' }])).toThrow(
      'Stack "Other" lacks the output(s) DispatcherFunctionName, BackfillStateMachineArn, ScheduleGroupName, JobStateMachinePrefix: is it a Piko stack, deployed by this version (npx cdk deploy)?',
    );
  });

  it('names job state machines <prefix>-<jobId>', () => {
    expect(jobStateMachineName('Piko', 'daily_sales')).toBe('Piko-daily_sales');
  });
});
