/**
 * runJobOnce (issue 12 item 5), the job author's test helper from `#piko`: one interval in process,
 * no store, the job's schema, timeout and record types, records and log lines kept in memory.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineJob,
  defineRecord,
  fargate,
  jsonLinesSink,
  lambda,
  NonRetryableError,
  type Resource,
  type RunContext,
  runJobOnce,
  TimeoutError,
  upsertSink,
} from '#piko';
import { InputError, UnknownRecordTypeError } from '../../../shared/errors.ts';

const Sale = defineRecord('sale', z.object({ day: z.string(), amount: z.number() }));
const Note = defineRecord('note', z.object({ text: z.string() }));
const Stray = defineRecord('stray', z.object({ n: z.number() }));
const DAY = { start: '2026-03-29T00:00:00+01:00', end: '2026-03-30T00:00:00+02:00' };

/** A resource that counts what the process did with it (a real Resource, as a job declares one). */
function countingResource(name: string) {
  const calls: string[] = [];
  const resource: Resource<{ name: string }, { created: number }> = {
    kind: 'counting',
    async create() {
      calls.push('create');
      return { created: calls.length };
    },
    async acquire() {
      calls.push('acquire');
      return { name };
    },
    async release() {
      calls.push('release');
    },
    async destroy() {
      calls.push('destroy');
    },
  };
  return { resource, calls };
}

describe('runJobOnce', () => {
  it('runs a handler over one interval with the schema’s defaults, and keeps its records and log lines', async () => {
    const seen: RunContext<{ region: string }>[] = [];
    const job = defineJob({
      id: 'daily_sales',
      schedule: { cron: '0 0 * * *', timezone: 'Europe/Berlin' },
      config: z.object({ region: z.string().default('eu') }),
      sinks: [
        upsertSink(Sale, { table: 'sales_daily', key: ['day'] }),
        jsonLinesSink(Note, { file: 'notes.jsonl' }),
      ],
      handler: async (ctx) => {
        seen.push(ctx);
        ctx.emit(Sale.of({ day: '2026-03-29', amount: 23 }));
        ctx.emit(Sale.of({ day: '2026-03-29', amount: 2 }));
        ctx.logger.info('summed', { rows: 2 });
        ctx.logger.debug('details');
        return { rows: 2, at: ctx.interval.start };
      },
    });

    const result = await runJobOnce(job, { interval: DAY });

    // 23 hours: 2026-03-29 is the spring-forward day in Berlin.
    expect(result).toEqual({
      output: { rows: 2, at: '2026-03-28T23:00:00.000Z' },
      records: {
        sale: [
          { day: '2026-03-29', amount: 23 },
          { day: '2026-03-29', amount: 2 },
        ],
        note: [],
      },
      logs: [
        { level: 'info', stage: 'main', message: 'summed', fields: { rows: 2 } },
        { level: 'debug', stage: 'main', message: 'details', fields: {} },
      ],
    });
    const [ctx] = seen;
    expect(ctx).toMatchObject({
      jobId: 'daily_sales',
      runId: 0,
      interval: { start: new Date('2026-03-28T23:00:00Z'), end: new Date('2026-03-29T22:00:00Z') },
      scheduledAt: new Date('2026-03-29T22:00:00Z'),
      config: { region: 'eu' },
      attempt: 1,
      stage: 'main',
      input: null,
    });
    expect(ctx?.signal.aborted).toBe(false);
  });

  it('runs the stages in order, in process, each JSON result the next stage’s input', async () => {
    const order: string[] = [];
    const job = defineJob({
      id: 'three_stages',
      schedule: { cron: '0 * * * *' },
      config: z.object({ factor: z.number().int().default(1) }),
      sinks: [jsonLinesSink(Note, { file: 'notes.jsonl' })],
      stages: [
        lambda('plan', (ctx) => {
          order.push(`plan ${JSON.stringify(ctx.input)}`);
          return { seed: 3, when: new Date('2026-03-01T00:00:00Z'), dropped: undefined };
        }),
        fargate('crunch', { cpu: 256, memoryMiB: 512 }, (ctx) => {
          order.push(`crunch ${JSON.stringify(ctx.input)}`);
          const { seed } = ctx.input as { seed: number };
          ctx.emit(Note.of({ text: `crunched ${seed}` }));
          ctx.logger.warn('slow', { seconds: 9 });
          return seed * (ctx.config as { factor: number }).factor;
        }),
        lambda('publish', (ctx) => {
          order.push(`publish ${JSON.stringify(ctx.input)}`);
          ctx.emit(Note.of({ text: 'published' }));
        }),
      ],
    });

    const result = await runJobOnce(job, {
      interval: { start: new Date('2026-03-01T05:00:00Z'), end: new Date('2026-03-01T06:00:00Z') },
      config: { factor: 7 },
      input: { from: 'test' },
    });

    expect(order).toEqual([
      'plan {"from":"test"}',
      'crunch {"seed":3,"when":"2026-03-01T00:00:00.000Z"}',
      'publish 21',
    ]);
    expect(result).toEqual({
      output: null,
      records: { note: [{ text: 'crunched 3' }, { text: 'published' }] },
      logs: [{ level: 'warn', stage: 'crunch', message: 'slow', fields: { seconds: 9 } }],
    });
  });

  it('lends given values in place of resources, and creates and destroys the others', async () => {
    const given = countingResource('given');
    const created = countingResource('created');
    const job = defineJob({
      id: 'with_resources',
      schedule: { cron: '0 * * * *' },
      resources: { api: given.resource, db: created.resource },
      handler: (_ctx, { api, db }) => ({ api: api.name, db: db.name }),
    });
    const interval = { start: '2026-03-01T05:00:00Z', end: '2026-03-01T06:00:00Z' };

    const result = await runJobOnce(job, { interval, resources: { api: { name: 'fake api' } } });

    expect(result.output).toEqual({ api: 'fake api', db: 'created' });
    expect(given.calls).toEqual([]);
    expect(created.calls).toEqual(['create', 'acquire', 'release', 'destroy']);
    await expect(
      runJobOnce(job, { interval, resources: { apl: { name: 'typo' } } as never }),
    ).rejects.toThrow(
      new InputError('runJobOnce: job "with_resources" has no resource "apl"; its resources are "api", "db"'),
    );
  });

  it('throws what the job throws, as it threw it, after giving the resources back', async () => {
    const thrown = new NonRetryableError('input file is corrupt');
    const db = countingResource('db');
    const job = defineJob({
      id: 'throws',
      schedule: { cron: '0 * * * *' },
      resources: { db: db.resource },
      handler: () => {
        throw thrown;
      },
    });

    const failure = await runJobOnce(job, {
      interval: { start: '2026-03-01T05:00:00Z', end: '2026-03-01T06:00:00Z' },
    }).catch((error: unknown) => error);

    expect(failure).toBe(thrown);
    expect(db.calls).toEqual(['create', 'acquire', 'release', 'destroy']);
  });

  it('stops a stage at the job’s timeout with a TimeoutError, its signal aborted', async () => {
    let signal: AbortSignal | undefined;
    const job = defineJob({
      id: 'slow',
      schedule: { cron: '0 * * * *' },
      timeout: '50ms',
      handler: (ctx) => {
        signal = ctx.signal;
        return new Promise(() => {});
      },
    });

    const run = runJobOnce(job, { interval: { start: '2026-03-01T05:00:00Z', end: '2026-03-01T06:00:00Z' } });

    await expect(run).rejects.toThrow(new TimeoutError('Stage "main" of job "slow" timed out after 50 ms'));
    expect(signal?.aborted).toBe(true);
  });

  it('refuses a config override the schema rejects, an interval not of the schedule, and a record type without a sink', async () => {
    const job = defineJob({
      id: 'strict',
      schedule: { cron: '0 0 * * *', timezone: 'Europe/Berlin' },
      config: z.object({ limit: z.number().int().min(1).default(10) }),
      sinks: [jsonLinesSink(Note, { file: 'notes.jsonl' })],
      handler: (ctx) => ctx.emit(Stray.of({ n: 1 })),
    });

    await expect(runJobOnce(job, { interval: DAY, config: { limit: 0 } })).rejects.toThrow(
      new InputError('Invalid config for job "strict": limit: Too small: expected number to be >=1'),
    );
    await expect(
      runJobOnce(job, { interval: { start: '2026-03-29T00:00:00Z', end: '2026-03-30T00:00:00Z' } }),
    ).rejects.toThrow(
      new InputError(
        'runJobOnce: [2026-03-29T00:00:00.000Z, 2026-03-30T00:00:00.000Z) is not an interval of job "strict" ' +
          '(cron "0 0 * * *" in Europe/Berlin); the interval holding 2026-03-29T00:00:00.000Z is ' +
          '[2026-03-28T23:00:00.000Z, 2026-03-29T22:00:00.000Z)',
      ),
    );
    await expect(runJobOnce(job, { interval: { start: 'yesterday', end: DAY.end } })).rejects.toThrow(
      new InputError(
        'runJobOnce: interval.start must be a Date or an ISO 8601 instant with an offset, got "yesterday"',
      ),
    );
    await expect(runJobOnce(job, { interval: DAY })).rejects.toBeInstanceOf(UnknownRecordTypeError);
  });
});
