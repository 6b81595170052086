/**
 * Two stacks in one account: each one's alarms and dashboard read only its own metrics (the `stack`
 * dimension its functions and tasks put on every metric, shared/telemetry.ts).
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { metricsDimensions, Observability } from '../../infra/constructs/observability.ts';

function observedStack(stackName: string): Template {
  const app = new App();
  const stack = new Stack(app, stackName);
  new Observability(stack, 'Observability', {
    stackName: stack.stackName,
    topicKey: new kms.Key(stack, 'Key'),
    controlFunction: lambda.Function.fromFunctionName(stack, 'Dispatcher', `${stackName}-dispatcher`),
    deadLetterQueue: sqs.Queue.fromQueueArn(
      stack,
      'Dlq',
      `arn:aws:sqs:eu-west-1:123456789012:${stackName}-dlq`,
    ),
    jobStateMachines: new Map([
      ['daily', sfn.StateMachine.fromStateMachineName(stack, 'Daily', `${stackName}-daily`)],
    ]),
    backfillStateMachine: sfn.StateMachine.fromStateMachineName(stack, 'Backfill', `${stackName}--backfill`),
    dashboardName: stackName,
  });
  return Template.fromStack(stack);
}

describe('Observability', () => {
  const production = observedStack('Piko');
  const staging = observedStack('PikoStaging');

  it('alarms on the failed runs of its own stack only', () => {
    for (const [template, name] of [
      [production, 'Piko'],
      [staging, 'PikoStaging'],
    ] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Piko',
        MetricName: 'RunsFailed',
        Dimensions: [
          { Name: 'service', Value: 'piko' },
          { Name: 'stack', Value: name },
        ],
      });
    }
  });

  it("graphs its own stack's figures on its dashboard", () => {
    const body = (template: Template) =>
      JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties);
    for (const metric of ['IntervalsPlanned', 'RunsSucceeded', 'RunsFailed', 'RunDuration', 'Lag']) {
      expect(body(staging)).toContain(
        `\\"Piko\\",\\"${metric}\\",\\"service\\",\\"piko\\",\\"stack\\",\\"PikoStaging\\"`,
      );
      expect(body(production)).toContain(
        `\\"Piko\\",\\"${metric}\\",\\"service\\",\\"piko\\",\\"stack\\",\\"Piko\\"`,
      );
    }
    expect(body(staging)).not.toContain('\\"stack\\",\\"Piko\\"');
  });

  it('names the dimensions every Piko metric carries', () => {
    expect(metricsDimensions('PikoStaging')).toEqual({ service: 'piko', stack: 'PikoStaging' });
  });
});
