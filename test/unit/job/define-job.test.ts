import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JobDefinitionError } from '../../../shared/errors.ts';
import { defineJob, fargate, type JobOptions, lambda, MAX_CONCURRENCY } from '../../../shared/job.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import type { ResourceMap } from '../../../shared/resources/types.ts';

const noop = async () => undefined;

function problemsOf(options: JobOptions<unknown, ResourceMap>): readonly string[] {
  try {
    defineJob(options);
  } catch (error) {
    expect(error).toBeInstanceOf(JobDefinitionError);
    return (error as JobDefinitionError).problems;
  }
  throw new Error('defineJob accepted an invalid job');
}

describe('defineJob', () => {
  it('resolves every default', () => {
    const job = defineJob({ id: 'daily_sales', schedule: { cron: '0 2 * * *' }, handler: noop });

    expect(job).toMatchObject({
      id: 'daily_sales',
      description: '',
      version: undefined,
      start: undefined,
      catchup: true,
      catchupWindowMs: undefined,
      misfireGraceTimeMs: 600_000,
      concurrency: 1,
      retry: { attempts: 3, backoffMs: 30_000, rate: 2, maxBackoffMs: 3_600_000 },
      timeoutMs: 300_000,
      deadlineMs: undefined,
      memoryMiB: 512,
      maxIntervalsPerDispatch: 1000,
      resources: {},
      sinks: [],
    });
    expect(job.schedule.timezone).toBe('UTC');
    expect(job.stages).toEqual([{ kind: 'lambda', name: 'main', handler: noop }]);
  });

  it('accepts durations as strings or milliseconds, and a start with an offset', () => {
    const job = defineJob({
      id: 'hourly-x',
      schedule: { cron: '0 * * * *', timezone: 'Asia/Shanghai' },
      start: '2026-01-01T00:00:00+08:00',
      catchupWindow: '2h',
      misfireGraceTime: 30_000,
      timeout: '90s',
      retry: { attempts: 5, backoff: '500ms', rate: 1.5, maxBackoff: '1d' },
      concurrency: 40,
      config: z.object({ region: z.string().default('eu') }),
      stages: [
        lambda('extract', noop),
        fargate('crunch', { cpu: 2048, memoryMiB: 8192 }, noop),
        lambda('load', noop),
      ],
    });

    expect(job.start?.toISOString()).toBe('2025-12-31T16:00:00.000Z');
    expect(job.catchupWindowMs).toBe(7_200_000);
    expect(job.misfireGraceTimeMs).toBe(30_000);
    expect(job.timeoutMs).toBe(90_000);
    expect(job.retry).toEqual({ attempts: 5, backoffMs: 500, rate: 1.5, maxBackoffMs: 86_400_000 });
    expect(job.stages.map((stage) => `${stage.kind}:${stage.name}`)).toEqual([
      'lambda:extract',
      'fargate:crunch',
      'lambda:load',
    ]);
  });

  it('keeps a code version as given', () => {
    const job = (version: string) =>
      defineJob({ id: 'versioned', version, schedule: { cron: '0 2 * * *' }, handler: noop });

    expect(job('2').version).toBe('2');
    expect(job('v2.1 (café) 🦊').version).toBe('v2.1 (café) 🦊');
    expect(job('x'.repeat(100)).version).toHaveLength(100);
  });

  it('refuses a code version that is empty, too long, not a string or holds control characters', () => {
    const must =
      'version must be a string of 1 to 100 characters without control characters, such as "2" or a commit id';
    const problems = (version: unknown) =>
      problemsOf({
        id: 'versioned',
        version: version as string,
        schedule: { cron: '0 2 * * *' },
        handler: noop,
      });

    expect(problems('')).toEqual([`${must}, got ""`]);
    expect(problems('x'.repeat(101))).toEqual([`${must}, got 101 characters`]);
    expect(problems(2)).toEqual([`${must}, got 2`]);
    expect(problems(null)).toEqual([`${must}, got null`]);
    expect(problems('2\nrelease')).toEqual([`${must}, got "2\\nrelease"`]);
    expect(problems('\ud800')).toEqual([`${must}, got "\\ud800"`]);
  });

  it('lists every problem at once', () => {
    const options = {
      id: '9Bad Id',
      schedule: { cron: '61 * * * *', timezone: 'Mars/Base' },
      concurrency: 0,
      handler: noop,
      stages: [lambda('a', noop)],
    };

    expect(() => defineJob(options)).toThrow(JobDefinitionError);
    expect(problemsOf(options)).toEqual([
      'id "9Bad Id" must start with a lower-case letter and hold only a-z, 0-9, _ and -, at most 40 characters',
      'Invalid cron "61 * * * *": minute field "61" is out of range 0-59',
      'Unknown timezone "Mars/Base": use an IANA name such as "Europe/London" or "UTC"',
      'concurrency must be a positive integer, got 0',
      'give either handler or stages, not both',
    ]);
  });

  it('names the job and each problem in the message', () => {
    expect(() => defineJob({ id: 'x', schedule: { cron: '* * * * *' } })).toThrow(
      'Invalid job "x":\n  - give a handler, or stages: [lambda(...), fargate(...)]',
    );
  });

  it('refuses a config a scheduled run (no override) fails: a field without a default', () => {
    const base = { id: 'needs', schedule: { cron: '0 * * * *' }, handler: noop };

    expect(problemsOf({ ...base, config: z.object({ table: z.string(), region: z.string() }) })).toEqual([
      'config must accept no override (a scheduled run has none), but {} fails it (table: Invalid input: expected string, received undefined; region: Invalid input: expected string, received undefined): give every field a default (.default(…)) or make it .optional()',
    ]);
    // With defaults, or optional, it is accepted.
    expect(
      defineJob({
        ...base,
        config: z.object({ table: z.string().default('t1'), note: z.string().optional() }),
      }).id,
    ).toBe('needs');
  });

  it('refuses an unknown timezone', () => {
    expect(
      problemsOf({ id: 'x', schedule: { cron: '* * * * *', timezone: 'Mars/Base' }, handler: noop }),
    ).toEqual(['Unknown timezone "Mars/Base": use an IANA name such as "Europe/London" or "UTC"']);
  });

  it('refuses a concurrency above what a Distributed Map runs', () => {
    expect(
      problemsOf({ id: 'x', schedule: { cron: '* * * * *' }, concurrency: 10_001, handler: noop }),
    ).toEqual(['concurrency 10001 is above 10000, the most a Distributed Map state runs at once; lower it']);
  });

  it('accepts concurrency above 40 (a Distributed Map), up to 10,000', () => {
    for (const concurrency of [41, 5_000, 10_000]) {
      const job = defineJob({ id: 'x', schedule: { cron: '* * * * *' }, concurrency, handler: noop });
      expect(job.concurrency).toBe(concurrency);
    }
    expect(MAX_CONCURRENCY).toBe(10_000);
  });

  it('refuses a catch-up window shorter than one interval', () => {
    expect(
      problemsOf({ id: 'x', schedule: { cron: '0 0 * * *' }, catchupWindow: '2h', handler: noop }),
    ).toEqual([
      'catchupWindow (7200000 ms) is shorter than one interval of "0 0 * * *" (86400000 ms): no missed interval could ever run; make it at least 86400000 ms or remove it',
    ]);
  });

  it('keeps a deadline in milliseconds, and refuses a bad or zero one', () => {
    const job = defineJob({ id: 'x', schedule: { cron: '0 * * * *' }, deadline: '2h', handler: noop });
    expect(job.deadlineMs).toBe(7_200_000);
    expect(defineJob({ id: 'x', schedule: { cron: '0 * * * *' }, handler: noop }).deadlineMs).toBeUndefined();

    expect(problemsOf({ id: 'x', schedule: { cron: '0 * * * *' }, deadline: 0, handler: noop })).toEqual([
      'deadline must be greater than 0 (leave it out for no deadline)',
    ]);
    expect(
      problemsOf({ id: 'x', schedule: { cron: '0 * * * *' }, deadline: 'two hours' as never, handler: noop }),
    ).toEqual(["deadline must be milliseconds or a string like '30s', '10m', '2h', '1d', got \"two hours\""]);
    expect(
      problemsOf({ id: 'x', schedule: { cron: '0 * * * *' }, deadlines: '2h', handler: noop } as never),
    ).toEqual(['unknown option "deadlines"; did you mean "deadline"?']);
  });

  it('refuses bad durations, retries, memory and starts', () => {
    expect(
      problemsOf({
        id: 'x',
        schedule: { cron: '* * * * *' },
        start: '2026-01-01 00:00',
        timeout: '5 minutes' as never,
        retry: { attempts: 0, rate: 0.5 },
        memoryMiB: 64,
        maxIntervalsPerDispatch: -1,
        handler: noop,
      }),
    ).toEqual([
      'start "2026-01-01 00:00" must be an ISO 8601 instant with an offset, such as "2026-01-01T00:00:00+08:00"',
      "timeout must be milliseconds or a string like '30s', '10m', '2h', '1d', got \"5 minutes\"",
      'retry.attempts must be an integer from 1 to 100, got 0',
      'retry.rate must be a number of at least 1, got 0.5',
      'memoryMiB must be an integer from 128 to 10240, got 64',
      'maxIntervalsPerDispatch must be a positive integer, got -1',
    ]);
  });

  it('refuses bad stages', () => {
    expect(
      problemsOf({
        id: 'x',
        schedule: { cron: '* * * * *' },
        stages: [
          lambda('Load', noop),
          lambda('a', noop),
          lambda('a', noop),
          fargate('big', { cpu: 256, memoryMiB: 8192 }, noop),
        ],
      }),
    ).toEqual([
      'stage 1 name "Load" must match [a-z][a-z0-9_-]*, at most 30 characters',
      'two stages are named "a"; stage names must be unique',
      'stage "big": memoryMiB 8192 is not allowed with cpu 256 (from 512 to 2048 in steps of 1024)',
    ]);
    expect(problemsOf({ id: 'x', schedule: { cron: '* * * * *' }, stages: [] })).toEqual([
      'stages must be a non-empty list of lambda(...) and fargate(...) stages',
    ]);
  });
});

describe('JobRegistry', () => {
  it('refuses two jobs with one id', () => {
    const job = defineJob({ id: 'twice', schedule: { cron: '* * * * *' }, handler: noop });

    expect(() => new JobRegistry([job, job])).toThrow(
      'Invalid job "twice":\n  - two jobs have the id "twice"; job ids must be unique',
    );
  });

  it('names the known jobs when asked for an unknown one', () => {
    const registry = new JobRegistry([
      defineJob({ id: 'a', schedule: { cron: '* * * * *' }, handler: noop }),
    ]);

    expect(() => registry.get('b')).toThrow('Unknown job "b". Known jobs: a.');
  });
});
