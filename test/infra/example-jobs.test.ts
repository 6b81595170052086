import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { jobs } from '../../functions/jobs/index.ts';
import { CFN_GUARD_NAMESPACE } from '../../infra/nag.ts';
import { eventBridgeCrons } from '../../shared/stack/eventbridge-cron.ts';
import { scheduleNamesFor } from '../../shared/stack/outputs.ts';
import { buildPikoStack, cfnText, type Resources, validationReport } from './fixtures.ts';

// The stack `npx cdk synth` builds: the project's own jobs (functions/jobs/index.ts), both checks.
const { app, stack, template, nag } = buildPikoStack(jobs, {}, { cfnGuard: true });
const resources = template.toJSON().Resources as Resources;
const render = cfnText(stack);

describe('the example jobs, deployed', () => {
  it('has a schedule per job (two when both day fields are restricted) and a state machine per job', () => {
    const expected = jobs.reduce((count, job) => count + eventBridgeCrons(job.schedule.cron).length, 0);
    template.resourceCountIs('AWS::Scheduler::Schedule', expected);
    for (const job of jobs) {
      for (const name of scheduleNamesFor(job)) {
        template.hasResourceProperties('AWS::Scheduler::Schedule', {
          Name: name,
          Target: Match.objectLike({ Input: JSON.stringify({ jobId: job.id }) }),
        });
      }
    }
    template.resourceCountIs('AWS::StepFunctions::StateMachine', jobs.length + 1);
    for (const name of [...jobs.map((job) => `Piko-${job.id}`), 'Piko--backfill']) {
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineName: name,
        StateMachineType: 'STANDARD',
      });
    }
    const fargateStages = jobs.flatMap((job) =>
      job.stages.flatMap((stage) => (stage.kind === 'fargate' ? [{ jobId: job.id, ...stage }] : [])),
    );
    expect(fargateStages.length).toBeGreaterThan(0);
    template.resourceCountIs('AWS::ECS::TaskDefinition', fargateStages.length);
    for (const stage of fargateStages) {
      template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        Family: { 'Fn::Join': ['', [{ Ref: 'AWS::StackName' }, `-${stage.jobId}-${stage.name}`]] },
        Cpu: String(stage.cpu),
        Memory: String(stage.memoryMiB),
        RequiresCompatibilities: ['FARGATE'],
      });
    }
  });

  it("grants each job's database user its sink tables, and no other job's", () => {
    const [migrations] = Object.values(resources).filter((r) => r.Type === 'Custom::PikoMigrations');
    const users = JSON.parse((migrations!.Properties as { databaseUsers: string }).databaseUsers) as {
      user: string;
      grants: { table: string; privileges: string[] }[];
    }[];
    const sinkGrants = (user: string) =>
      users.find((plan) => plan.user === user)!.grants.filter((grant) => !grant.table.startsWith('piko_'));
    const writes = ['CREATE', 'SELECT', 'INSERT', 'UPDATE'];
    expect(sinkGrants('piko_job_store_totals')).toEqual([
      { table: 'example_store_totals', privileges: writes },
    ]);
    expect(sinkGrants('piko_job_nightly_archive')).toEqual([
      // The archive itself lives in the job-outputs bucket (objectStore()), only its manifest here.
      { table: 'archive_manifests', privileges: writes },
    ]);
    expect(sinkGrants('piko_job_price_fanout')).toEqual([]);
  });

  it.each(jobs.map((job) => [job.id, job] as const))(
    'schedules %s: expression, timezone, input, DLQ',
    (_id, job) => {
      const schedules = Object.values(resources)
        .filter((resource) => resource.Type === 'AWS::Scheduler::Schedule')
        .map((resource) => render(resource.Properties) as Record<string, unknown>);
      const names = scheduleNamesFor(job);
      eventBridgeCrons(job.schedule.cron).forEach((cron, index) => {
        expect(schedules).toContainEqual(
          expect.objectContaining({
            Name: names[index],
            ScheduleExpression: cron.expression,
            ScheduleExpressionTimezone: job.schedule.timezone,
            FlexibleTimeWindow: { Mode: 'OFF' },
            Target: expect.objectContaining({
              Input: JSON.stringify({ jobId: job.id }),
              DeadLetterConfig: { Arn: '<Schedules/DeadLetters.Arn>' },
              RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
            }),
          }),
        );
      });
    },
  );

  it('passes cdk-nag AwsSolutions', () => {
    expect(nag.validateScope(app).violations).toEqual([]);
  });

  it('passes cfn-guard’s Control Tower controls, every acknowledgement explained', () => {
    const { violations, acknowledged } = validationReport(app, CFN_GUARD_NAMESPACE);
    expect(violations.map(({ ruleName, violatingConstructs }) => [ruleName, violatingConstructs])).toEqual(
      [],
    );
    for (const { reason } of acknowledged) expect(reason?.length).toBeGreaterThan(100);
  });
});
