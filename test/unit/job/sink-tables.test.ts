/**
 * Sinks that could collide: Piko's own `piko_` tables are refused at definition, and a project whose
 * jobs define one table two ways is refused when its registry is built.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JobDefinitionError, SinkDefinitionError } from '../../../shared/errors.ts';
import { defineJob } from '../../../shared/job.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import { defineRecord } from '../../../shared/sinks/record.ts';
import { columnsOf } from '../../../shared/sinks/sql-table.ts';
import type { Sink } from '../../../shared/sinks/types.ts';
import { upsertSink } from '../../../shared/sinks/upsert-sink.ts';

const StoreTotal = defineRecord(
  'store_total',
  z.object({ day: z.string(), store_id: z.string(), total: z.number() }),
);
const jobWith = (id: string, sinks: readonly Sink<unknown>[]) =>
  defineJob({ id, schedule: { cron: '0 0 * * *' }, sinks, handler: () => null });

describe('the piko_ table prefix', () => {
  it('is refused by upsertSink, whatever its case', () => {
    expect(() => upsertSink(StoreTotal, { table: 'piko_jobs', key: ['day'] })).toThrow(
      new SinkDefinitionError('upsertSink for record type "store_total" (table "piko_jobs")', [
        'Table "piko_jobs" starts with "piko_", which Piko reserves for its state tables: choose another name.',
      ]),
    );
    expect(() => upsertSink(StoreTotal, { table: 'PIKO_Runs', key: ['day'] })).toThrow(
      'Table "PIKO_Runs" starts with "piko_", which Piko reserves for its state tables: choose another name.',
    );
  });

  it('is refused by defineJob for a sink of its own making that names its table', () => {
    const handMade: Sink<unknown> = {
      recordType: StoreTotal as never,
      batchSize: 10,
      table: { name: 'piko_jobs', key: ['day'], columns: columnsOf(StoreTotal.schema).columns },
      write: async () => undefined,
    };

    expect(() => jobWith('hand_made', [handMade])).toThrow(
      new JobDefinitionError('hand_made', [
        'sink 1: Table "piko_jobs" starts with "piko_", which Piko reserves for its state tables: choose another name.',
      ]),
    );
  });
});

describe('one table, several jobs', () => {
  it('refuses two jobs whose sinks define a table with different keys', () => {
    const a = jobWith('job_a', [upsertSink(StoreTotal, { table: 'store_totals', key: ['day'] })]);
    const b = jobWith('job_b', [upsertSink(StoreTotal, { table: 'store_totals', key: ['day', 'store_id'] })]);

    expect(() => new JobRegistry([a, b])).toThrow(
      new JobDefinitionError('job_b', [
        'jobs "job_a" and "job_b" both write table "store_totals" but define it differently (key (day) against (day, store_id)): give one of them another table',
      ]),
    );
  });

  it('refuses two jobs whose sinks define a table with different columns, table names compared in any case', () => {
    const DayTotal = defineRecord('day_total', z.object({ day: z.string(), total: z.int() }));
    const a = jobWith('job_a', [upsertSink(StoreTotal, { table: 'Totals', key: ['day'] })]);
    const b = jobWith('job_b', [upsertSink(DayTotal, { table: 'totals', key: ['day'] })]);

    expect(() => new JobRegistry([a, b])).toThrow(
      'jobs "job_a" and "job_b" both write table "totals" but define it differently (columns (day string, store_id string, total number) against (day string, total int)): give one of them another table',
    );
  });

  it('accepts two jobs that write one table defined the same way', () => {
    const a = jobWith('job_a', [upsertSink(StoreTotal, { table: 'store_totals', key: ['day', 'store_id'] })]);
    const b = jobWith('job_b', [upsertSink(StoreTotal, { table: 'store_totals', key: ['day', 'store_id'] })]);

    expect(new JobRegistry([a, b]).ids()).toEqual(['job_a', 'job_b']);
  });
});
