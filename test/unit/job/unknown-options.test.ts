/**
 * Options nobody reads are refused, with the nearest known name: in defineJob (and its schedule,
 * retry and stages), in the sinks' and the resources' options.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JobDefinitionError } from '../../../shared/errors.ts';
import { defineJob, fargate, type JobOptions, lambda } from '../../../shared/job.ts';
import { editDistance, nearestName } from '../../../shared/options.ts';
import { mysqlPool } from '../../../shared/resources/mysql-pool.ts';
import { sqlPool } from '../../../shared/resources/sql-pool.ts';
import type { ResourceMap } from '../../../shared/resources/types.ts';
import { jsonLinesSink } from '../../../shared/sinks/json-lines-sink.ts';
import { defineRecord } from '../../../shared/sinks/record.ts';
import { type UpsertSinkOptions, upsertSink } from '../../../shared/sinks/upsert-sink.ts';

const noop = async () => undefined;
const Row = defineRecord('row', z.object({ day: z.string(), total: z.number() }));

/** Options as a user writes them in plain JavaScript or through tsx: no type check at run time. */
function untyped<T>(options: Record<string, unknown>): T {
  return options as T;
}

describe('nearestName', () => {
  it('measures edits between names', () => {
    expect([
      editDistance('catchupWindows', 'catchupWindow'),
      editDistance('', 'abc'),
      editDistance('kitten', 'sitting'),
    ]).toEqual([1, 3, 3]);
  });

  it('suggests a close name, case ignored, and nothing for a name far from every one', () => {
    expect([
      nearestName('catchupWindows', ['catchup', 'catchupWindow']),
      nearestName('TIMEZONE', ['cron', 'timezone']),
      nearestName('color', ['cron', 'timezone']),
    ]).toEqual(['catchupWindow', 'timezone', undefined]);
  });
});

describe('defineJob refuses unknown options', () => {
  it('names every unknown key, nested ones included, with the nearest known option, at once', () => {
    // Arrange
    const options = untyped<JobOptions<unknown, ResourceMap>>({
      id: 'typos',
      schedule: { cron: '0 * * * *', timzone: 'Europe/Paris' },
      catchupWindows: '1d',
      retry: { attempts: 2, backof: '1s' },
      colour: 'blue',
      handler: noop,
    });

    // Act / Assert
    expect(() => defineJob(options)).toThrow(
      new JobDefinitionError('typos', [
        'unknown option "catchupWindows"; did you mean "catchupWindow"?',
        'unknown option "colour"; the options are id, description, version, schedule, start, catchup, catchupWindow, misfireGraceTime, concurrency, retry, timeout, deadline, memoryMiB, maxIntervalsPerDispatch, dependsOn, upstreamTimeout, config, resources, sinks, handler, stages',
        'unknown option "schedule.timzone"; did you mean "schedule.timezone"?',
        'unknown option "retry.backof"; did you mean "retry.backoff"?',
      ]),
    );
    expect(() => defineJob(options)).toThrow(
      'Invalid job "typos":\n  - unknown option "catchupWindows"; did you mean "catchupWindow"?\n',
    );
  });

  it('lists unknown options together with the other problems', () => {
    const options = untyped<JobOptions<unknown, ResourceMap>>({
      id: 'both',
      schedule: { cron: '0 * * * *' },
      concurency: 4,
      concurrency: 0,
      handler: noop,
    });

    expect(() => defineJob(options)).toThrow(
      new JobDefinitionError('both', [
        'unknown option "concurency"; did you mean "concurrency"?',
        'concurrency must be a positive integer, got 0',
      ]),
    );
  });

  it('refuses unknown keys of a stage, a fargate size and an unknown stage kind', () => {
    const options = untyped<JobOptions<unknown, ResourceMap>>({
      id: 'stages',
      schedule: { cron: '0 * * * *' },
      stages: [
        lambda('plan', noop),
        fargate('crunch', untyped({ cpu: 1024, memoryMib: 4096 }), noop),
        { kind: 'lambda', name: 'load', handler: noop, retries: 3 },
        { kind: 'lamda', name: 'odd', handler: noop },
      ],
    });

    expect(() => defineJob(options)).toThrow(
      new JobDefinitionError('stages', [
        'stage "crunch": unknown option "memoryMib"; did you mean "memoryMiB"?',
        'stage "load": unknown option "retries"; the options are kind, name, handler',
        'stage "odd": kind "lamda" must be "lambda" or "fargate"; build stages with lambda(...) or fargate(...)',
      ]),
    );
  });
});

describe('sinks and resources refuse unknown options', () => {
  it('upsertSink', () => {
    const options = untyped<UpsertSinkOptions<z.infer<typeof Row.schema>>>({
      table: 'totals',
      key: ['day'],
      batchsize: 10,
      createTables: false,
    });

    expect(() => upsertSink(Row, options)).toThrow(
      'Invalid upsertSink for record type "row" (table "totals"):\n' +
        '  - Unknown option "batchsize"; did you mean "batchSize"?\n' +
        '  - Unknown option "createTables"; did you mean "createTable"?',
    );
  });

  it('jsonLinesSink', () => {
    expect(() => jsonLinesSink(Row, untyped({ file: 'rows.jsonl', flie: 'x' }))).toThrow(
      'Invalid jsonLinesSink for record type "row":\n  - Unknown option "flie"; did you mean "file"?',
    );
  });

  it('mysqlPool, with its nested iamAuth, and sqlPool', () => {
    expect(() => mysqlPool(untyped({ max: 0, maxConnections: 5, iamAuth: { regoin: 'eu-west-1' } }))).toThrow(
      'mysqlPool: unknown option "maxConnections"; the options are max, dsn, iamAuth, resetOnRelease; ' +
        'unknown option "iamAuth.regoin"; did you mean "iamAuth.region"?; max must be an integer of 1 or more, got 0',
    );
    expect(() => sqlPool(untyped({ sqlitefile: 'x.db' }))).toThrow(
      'sqlPool: unknown option "sqlitefile"; did you mean "sqliteFile"?',
    );
  });
});
