/**
 * `runJobOnce`: a job's unit test helper (exported by the public job API, `#piko`). It runs one
 * interval of a job in process, through the stage runner's own attempt (`attempt.ts`), with no state
 * store: records stay in memory, log lines are kept, resources may be replaced by test values.
 */
import { InputError } from '../errors.ts';
import type { Interval } from '../interval.ts';
import { type JobDefinition, type LogFields, parseIsoInstant, parseJobConfig } from '../job.ts';
import { ResourceRegistry } from '../resources/lending.ts';
import type { BorrowedResources, Resource, ResourceMap } from '../resources/types.ts';
import { attemptStage, type RunLogLevel } from './attempt.ts';

/** An instant as `runJobOnce` takes it: a Date, or ISO 8601 text with an offset. */
export type InstantInput = Date | string;

/** What {@link runJobOnce} runs. */
export interface RunJobOnceOptions<R extends ResourceMap = ResourceMap> {
  /** The interval to run: one of the job's schedule, `[start, end)`. */
  readonly interval: { readonly start: InstantInput; readonly end: InstantInput };
  /** A config override, validated against the job's schema as a manual run's is. @default none: the schema's defaults */
  readonly config?: unknown;
  /**
   * Values lent to the handler instead of the job's resources, by name (a fake API client, a test
   * database). The job's other resources are created for the call and destroyed after it.
   * @default {} (every resource of the job is created)
   */
  readonly resources?: Partial<BorrowedResources<R>>;
  /** The first stage's input, as JSON. @default null */
  readonly input?: unknown;
}

/** A line written through the run context's logger (`ctx.log`, also `ctx.logger`). */
export interface RunLog {
  readonly level: RunLogLevel;
  /** The stage that wrote it (`'main'` for a job with a single handler). */
  readonly stage: string;
  readonly message: string;
  readonly fields: LogFields;
}

/** What {@link runJobOnce} returns. */
export interface RunJobOnceResult {
  /** The last stage's result, as the store would record it (JSON; null for none). */
  readonly output: unknown;
  /**
   * The emitted records' values, by record type name, in order; every record type the job has a
   * sink for is a key, with no records when none was emitted. No sink writes them.
   */
  readonly records: Readonly<Record<string, readonly unknown[]>>;
  /** The lines written through `ctx.log`, in order. */
  readonly logs: readonly RunLog[];
}

/** The run id a run has in {@link runJobOnce}: there is no store to give it one. */
export const RUN_ONCE_RUN_ID = 0;

/**
 * Runs one interval of a job in process, as a unit test of the job would: the handler, or the stages
 * in order (each stage's JSON result the next one's input, Fargate stages too), with the job's config
 * schema, timeout and record types, through the same attempt the stage runner makes, but once (no
 * retries), with no state store, and with the records kept in memory instead of written to the sinks.
 * @example
 * const { output, records } = await runJobOnce(dailySales, {
 *   interval: { start: '2026-03-01T00:00:00Z', end: '2026-03-02T00:00:00Z' },
 *   resources: { db: testDatabase },
 * });
 * @throws InputError for an interval that is not one of the job's, an unknown resource name or a
 *   config the schema rejects; TimeoutError when a stage runs past the job's timeout; what a stage
 *   throws, as it threw it.
 */
export async function runJobOnce<C, R extends ResourceMap>(
  job: JobDefinition<C, R>,
  options: RunJobOnceOptions<R>,
): Promise<RunJobOnceResult> {
  const interval = checkInterval(job, options.interval);
  const config = parseJobConfig(job, options.config);
  const lent = { ...job, resources: replacedResources(job, options.resources ?? {}) };
  const records: Record<string, unknown[]> = Object.fromEntries(
    job.sinks.map((sink) => [sink.recordType.name, []]),
  );
  const logs: RunLog[] = [];
  const resources = new ResourceRegistry();
  let input = asJson(options.input);
  try {
    for (const stage of job.stages) {
      const output = await attemptStage({
        job: lent as JobDefinition,
        stage: stage as JobDefinition['stages'][number],
        runId: RUN_ONCE_RUN_ID,
        interval,
        config,
        attempt: 1,
        input,
        resources,
        log: (level, message, fields) => logs.push({ level, stage: stage.name, message, fields }),
        deliver: async (buffer) => {
          for (const record of buffer.records) records[record.type.name]?.push(record.value);
        },
      });
      // What the store would keep and the next stage would read back.
      input = asJson(output);
    }
  } finally {
    await resources.destroyAll();
  }
  return { output: input, records, logs };
}

/** The interval as Dates, checked against the job's schedule. */
function checkInterval(
  job: JobDefinition<unknown, ResourceMap>,
  given: RunJobOnceOptions['interval'],
): Interval {
  const instant = (value: InstantInput | undefined, name: string): Date => {
    const date =
      value instanceof Date ? value : typeof value === 'string' ? parseIsoInstant(value) : undefined;
    if (!date || Number.isNaN(date.getTime())) {
      throw new InputError(
        `runJobOnce: interval.${name} must be a Date or an ISO 8601 instant with an offset, got ${JSON.stringify(value) ?? String(value)}`,
      );
    }
    return date;
  };
  const start = instant(given?.start, 'start');
  const end = instant(given?.end, 'end');
  const { schedule } = job;
  const opening = schedule.tickAtOrAfter(start);
  const closing = opening ? schedule.nextTick(opening) : undefined;
  if (opening?.getTime() !== start.getTime() || closing?.getTime() !== end.getTime()) {
    const previous = schedule.previousTick(new Date(start.getTime() + 1));
    const next = previous ? schedule.nextTick(previous) : undefined;
    const containing =
      previous && next
        ? `; the interval holding ${start.toISOString()} is [${previous.toISOString()}, ${next.toISOString()})`
        : '';
    throw new InputError(
      `runJobOnce: [${start.toISOString()}, ${end.toISOString()}) is not an interval of job "${job.id}" ` +
        `(cron "${schedule.cron}" in ${schedule.timezone})${containing}`,
    );
  }
  return { start, end };
}

/** The job's resources with the given values lent in place of the named ones. */
function replacedResources<R extends ResourceMap>(
  job: JobDefinition<unknown, R>,
  values: Partial<BorrowedResources<R>>,
): ResourceMap {
  const known = Object.keys(job.resources);
  const unknown = Object.keys(values).filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new InputError(
      `runJobOnce: job "${job.id}" has no resource ${unknown.map((name) => JSON.stringify(name)).join(', ')}; ` +
        `its resources are ${known.length > 0 ? known.map((name) => JSON.stringify(name)).join(', ') : '(none)'}`,
    );
  }
  const resources: ResourceMap = { ...job.resources };
  for (const [name, value] of Object.entries(values)) resources[name] = givenValue(value);
  return resources;
}

/** A resource that lends `value` as it is, and has nothing to create or destroy. */
function givenValue(value: unknown): Resource<unknown, unknown> {
  return {
    kind: 'given',
    create: async () => value,
    acquire: async (handle) => handle,
    release: async () => {},
    destroy: async () => {},
  };
}

/** A value as it comes back from the state store's JSON column: null for none. */
function asJson(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : JSON.parse(text);
}
