import { describe, expect, it } from 'vitest';
import { JobDefinitionError } from '../../../shared/errors.ts';
import { defineJob, type JobOptions } from '../../../shared/job.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import type { ResourceMap } from '../../../shared/resources/types.ts';

const noop = async () => undefined;
const job = (id: string, dependsOn?: string[]) =>
  defineJob({ id, schedule: { cron: '0 * * * *' }, dependsOn, handler: noop });

function problemsOf(options: JobOptions<unknown, ResourceMap>): readonly string[] {
  try {
    defineJob(options);
  } catch (error) {
    expect(error).toBeInstanceOf(JobDefinitionError);
    return (error as JobDefinitionError).problems;
  }
  throw new Error('defineJob accepted an invalid job');
}

describe('dependsOn in defineJob', () => {
  it('keeps the upstream ids and the timeout; none by default', () => {
    const daily = defineJob({
      id: 'daily_rollup',
      schedule: { cron: '0 0 * * *', timezone: 'Europe/Berlin' },
      dependsOn: ['hourly_events'],
      upstreamTimeout: '6h',
      handler: noop,
    });
    expect(daily).toMatchObject({ dependsOn: ['hourly_events'], upstreamTimeoutMs: 21_600_000 });
    expect(job('alone')).toMatchObject({ dependsOn: [], upstreamTimeoutMs: undefined });
  });

  it('refuses what is not a list of distinct job ids other than its own, and a timeout without upstream', () => {
    const base = { id: 'down', schedule: { cron: '0 * * * *' }, handler: noop };
    expect(problemsOf({ ...base, dependsOn: 'up' as unknown as string[] })).toEqual([
      'dependsOn must be a list of job ids, such as ["hourly_events"], got "up"',
    ]);
    expect(problemsOf({ ...base, dependsOn: ['Up', 'down', 'a', 'a'] })).toEqual([
      'dependsOn: "Up" is not a job id ([a-z][a-z0-9_-]*, at most 40 characters)',
      'dependsOn: a job cannot depend on itself ("down")',
      'dependsOn: "a" is listed twice; list each upstream job once',
    ]);
    expect(problemsOf({ ...base, upstreamTimeout: '6h' })).toEqual([
      'upstreamTimeout applies only with dependsOn: add the upstream job ids or remove it',
    ]);
    expect(problemsOf({ ...base, dependsOn: ['up'], upstreamTimeout: 'soon' as '6h' })).toEqual([
      `upstreamTimeout must be milliseconds or a string like '30s', '10m', '2h', '1d', got "soon"`,
    ]);
  });
});

describe('dependencies in the registry', () => {
  it('refuses a cycle, naming it', () => {
    expect(() => new JobRegistry([job('a', ['b']), job('b', ['c']), job('c', ['a'])])).toThrow(
      'Invalid job "a":\n  - dependsOn forms a cycle: a → b → c → a; a job cannot wait, through its upstream jobs, for itself — remove one of these dependencies',
    );
    expect(() => new JobRegistry([job('x'), job('a', ['b']), job('b', ['a'])])).toThrow(
      'dependsOn forms a cycle: a → b → a',
    );
  });

  it('refuses an unknown upstream, naming the nearest job', () => {
    expect(() => new JobRegistry([job('hourly_events'), job('daily', ['hourly_event'])])).toThrow(
      'Invalid job "daily":\n  - dependsOn names "hourly_event", which is not a job; did you mean "hourly_events"? (the jobs are daily, hourly_events)',
    );
  });

  it('orders the downstream jobs of a job after the jobs they depend on', () => {
    // a → b → d, a → c → d, c → e; f is unrelated.
    const registry = new JobRegistry([
      job('e', ['c']),
      job('d', ['b', 'c']),
      job('c', ['a']),
      job('b', ['a']),
      job('a'),
      job('f'),
    ]);
    expect(registry.downstreams('a').map((down) => down.id)).toEqual(['b', 'c']);
    expect(registry.downstreamOrder('a').map((down) => down.id)).toEqual(['b', 'c', 'd', 'e']);
    expect(registry.downstreamOrder('c').map((down) => down.id)).toEqual(['d', 'e']);
    expect(registry.upstreams('d').map((up) => up.id)).toEqual(['b', 'c']);
  });
});
