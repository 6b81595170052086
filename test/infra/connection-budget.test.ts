/**
 * What the database sees on AWS (docs/aws.md, "What the database sees"): each job function reserves
 * exactly what its workflows can invoke at once, RDS Proxy lends at most 90% of the cluster's
 * connections, and synth refuses reservations the account's Lambda quota cannot hold.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  jobFunctionConcurrency,
  LAMBDA_UNRESERVED_MINIMUM,
  reservedConcurrencyProblems,
} from '../../infra/constructs/job-functions.ts';
import { defineJob } from '../../shared/job.ts';
import { buildPikoStack, cfnText, fixtureJobs } from './fixtures.ts';

const noop = async () => null;
const seed = defineJob({ id: 'seed', schedule: { cron: '* * * * *' }, concurrency: 5_000, handler: noop });

describe('the connection budget of the stack', () => {
  it('reserves twice the concurrency (scheduled and backfill lanes) and one manual run per job function', () => {
    expect([1, 40, 41, 5_000, 10_000].map((concurrency) => jobFunctionConcurrency({ concurrency }))).toEqual([
      3, 81, 83, 10_001, 20_001,
    ]);
  });

  it('sets every job function’s reserved concurrency to that, and the proxy to 90% of the connections', () => {
    const { stack, template } = buildPikoStack(fixtureJobs);
    const render = cfnText(stack);
    const functions = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('^Piko job ') },
    });
    const reserved = Object.values(functions).map((fn) => [
      String(render(fn.Properties.Description)).replace(/^Piko job (\S+):.*$/, '$1'),
      fn.Properties.ReservedConcurrentExecutions,
    ]);
    expect(Object.fromEntries(reserved)).toEqual(
      Object.fromEntries(fixtureJobs.map((job) => [job.id, 2 * job.concurrency + 1])),
    );
    // The other functions (dispatcher, migrations) share the unreserved pool.
    const others = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('^Piko (?!job )') },
    });
    expect(Object.keys(others).length).toBeGreaterThan(0);
    for (const fn of Object.values(others))
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
    template.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: Match.objectLike({
        MaxConnectionsPercent: 90,
        ConnectionBorrowTimeout: 30,
      }),
    });
  });

  it('refuses jobs whose reservations leave fewer than 100 unreserved executions, naming the largest', () => {
    expect(reservedConcurrencyProblems(fixtureJobs, 1_000)).toEqual([]);
    expect(() => buildPikoStack([...fixtureJobs, seed])).toThrow(
      'PikoStack "Piko":\n  - the job functions reserve 10059 concurrent executions (seed: 10001, fanout: 41, upsert: 9, archive: 5, payroll: 3; ' +
        "each job twice its concurrency, for its scheduled and backfill lanes, and 1 manual run), but the account's Lambda quota of " +
        '1000 concurrent executions keeps 100 unreserved: raise the quota (Service Quotas, "Concurrent executions") and set the ' +
        "stack prop lambdaConcurrencyQuota to it, or lower the jobs' concurrency",
    );
    const total = [...fixtureJobs, seed].reduce((sum, job) => sum + jobFunctionConcurrency(job), 0);
    expect(reservedConcurrencyProblems([...fixtureJobs, seed], total + LAMBDA_UNRESERVED_MINIMUM)).toEqual(
      [],
    );
    expect(
      reservedConcurrencyProblems([...fixtureJobs, seed], total + LAMBDA_UNRESERVED_MINIMUM - 1),
    ).toHaveLength(1);
  });

  it('deploys the seed’s job (concurrency 5,000) once the quota is raised', () => {
    const { template } = buildPikoStack([seed], { lambdaConcurrencyQuota: 11_000 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Piko job seed: Lambda stages',
      ReservedConcurrentExecutions: 10_001,
    });
  });
});
