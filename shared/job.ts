import * as z from 'zod';
import { registerConfigSecrets } from './config-secrets.ts';
import { type Duration, toMillis } from './duration.ts';
import { ConfigOverrideTooLargeError, InputError, JobDefinitionError, PikoError } from './errors.ts';
import type { Interval } from './interval.ts';
import { nearestName, unknownOptionProblems } from './options.ts';
import type { BorrowedResources, ResourceMap } from './resources/types.ts';
import { type CompiledSchedule, compileSchedule } from './schedule/index.ts';
import { reservedTableProblem } from './sinks/sql-table.ts';
import type { Sink, TaggedRecord } from './sinks/types.ts';
import { redact } from './telemetry.ts';

export { secret } from './config-secrets.ts';

/** Job ids: lower-case letter first, then lower-case letters, digits, `_` or `-`; at most 40 characters. */
export const JOB_ID_PATTERN = /^[a-z][a-z0-9_-]{0,39}$/;
/** Stage names follow the same rule as job ids, at most 30 characters (they end up in state names). */
export const STAGE_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,29}$/;
/** The longest code version a job may declare, in characters (the runs' `code_version` column). */
export const MAX_VERSION_LENGTH = 100;
/**
 * The most intervals of one job running at once: what a Distributed Map state runs (above 40, the
 * most an inline Map runs, the job workflow uses one; `shared/workflow/map-mode.ts`).
 */
export const MAX_CONCURRENCY = 10_000;
/** Fargate cpu units and the memory (MiB) each allows, as ECS accepts them. */
export const FARGATE_SIZES: Readonly<Record<number, readonly [min: number, max: number, step: number]>> = {
  256: [512, 2048, 1024],
  512: [1024, 4096, 1024],
  1024: [2048, 8192, 1024],
  2048: [4096, 16384, 1024],
  4096: [8192, 30720, 1024],
};

/** Fields attached to a log line: plain JSON-ready values. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * A run's logger (`ctx.log`): each line carries the job, run, interval, stage and attempt. It writes
 * through the process's logger (JSON in Lambda, so CloudWatch Logs Insights finds a run's lines by
 * `runId`; readable lines in a terminal). The local runtime also keeps each run's lines in
 * `<piko.data_dir>/logs/<job>/<run id>.log` (bounded by `[logs]`), which `piko runs --logs` and the
 * web UI show; in `runJobOnce` the lines are kept and returned.
 */
export interface RunLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** What every handler and stage receives. */
export interface RunContext<C = unknown> {
  readonly jobId: string;
  readonly runId: number;
  /** The data interval `[start, end)` this run processes. */
  readonly interval: Interval;
  /** When the interval was due: `interval.end`. */
  readonly scheduledAt: Date;
  /** The job's config, validated, with any manual or backfill override applied. */
  readonly config: C;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The stage being run (`'main'` for a job with a single `handler`). */
  readonly stage: string;
  /** The previous stage's JSON result (`null` for the first stage). */
  readonly input: unknown;
  /** Aborted when the job's `timeout` is exceeded or the process shuts down. */
  readonly signal: AbortSignal;
  /** Sends a typed record to the sink registered for its type. */
  emit(record: TaggedRecord<unknown>): void;
  /**
   * Log lines of this run, with its job, run, interval, stage and attempt attached; kept per run
   * locally (`piko runs <job> --logs`, the UI's interval page), in CloudWatch on AWS.
   */
  readonly log: RunLogger;
  /** The same logger as {@link RunContext.log}, under its first name (kept for jobs written before). */
  readonly logger: RunLogger;
}

/** A stage or single-job handler. Its small JSON result becomes the next stage's input. */
export type Handler<C, R extends ResourceMap> = (
  context: RunContext<C>,
  resources: BorrowedResources<R>,
) => Promise<unknown> | unknown;

/** Fargate task size of a CPU-heavy stage. */
export interface FargateSize {
  /** CPU units: 256, 512, 1024, 2048 or 4096. @default 1024 */
  readonly cpu?: number;
  /** Memory in MiB, allowed for the cpu. @default 2048 */
  readonly memoryMiB?: number;
}

/** One named step of a job: runs in the job's Lambda, or as a Fargate task. */
export type Stage<C = unknown, R extends ResourceMap = ResourceMap> = LambdaStage<C, R> | FargateStage<C, R>;

/** A stage that runs in the job's Lambda function. */
export interface LambdaStage<C = unknown, R extends ResourceMap = ResourceMap> {
  readonly kind: 'lambda';
  readonly name: string;
  // Method syntax keeps a job with a typed config assignable to JobDefinition<unknown> (bivariance).
  handler(context: RunContext<C>, resources: BorrowedResources<R>): Promise<unknown> | unknown;
}

/** A CPU-heavy stage that runs as a Fargate task. */
export interface FargateStage<C = unknown, R extends ResourceMap = ResourceMap> {
  readonly kind: 'fargate';
  readonly name: string;
  /** CPU units. */
  readonly cpu: number;
  /** Memory, MiB. */
  readonly memoryMiB: number;
  handler(context: RunContext<C>, resources: BorrowedResources<R>): Promise<unknown> | unknown;
}

/** The keys each stage kind has; any other key of a stage is refused by {@link defineJob}. */
const STAGE_KEYS = {
  lambda: ['kind', 'name', 'handler'],
  fargate: ['kind', 'name', 'cpu', 'memoryMiB', 'handler'],
} as const satisfies Record<Stage['kind'], readonly string[]>;
const FARGATE_SIZE_KEYS = ['cpu', 'memoryMiB'] as const satisfies readonly (keyof FargateSize)[];
/**
 * Problems found when a stage was built (unknown size options of {@link fargate}), reported by
 * {@link defineJob} with every other problem of the job.
 */
const STAGE_PROBLEMS = Symbol('piko.stageProblems');

/** A stage that runs in the job's Lambda function (locally: in process). */
export function lambda<C, R extends ResourceMap>(name: string, handler: Handler<C, R>): Stage<C, R> {
  return { kind: 'lambda', name, handler };
}

/** A CPU-heavy stage that runs as a Fargate task (locally: in a child process). */
export function fargate<C, R extends ResourceMap>(
  name: string,
  size: FargateSize,
  handler: Handler<C, R>,
): Stage<C, R> {
  const stage = {
    kind: 'fargate' as const,
    name,
    cpu: size?.cpu ?? 1024,
    memoryMiB: size?.memoryMiB ?? 2048,
    handler,
  };
  const problems =
    typeof size === 'object' && size !== null ? unknownOptionProblems(size, FARGATE_SIZE_KEYS) : [];
  // Not enumerable: the stage keeps exactly the keys of its kind.
  if (problems.length > 0) Object.defineProperty(stage, STAGE_PROBLEMS, { value: problems });
  return stage;
}

/** Retry policy of a run: exponential backoff with jitter. */
export interface RetryOptions {
  /** Total attempts, the first included (1 = no retry). @default 3 */
  readonly attempts?: number;
  /** Wait before the second attempt. @default '30s' */
  readonly backoff?: Duration;
  /** Multiplier applied to the wait after each attempt. @default 2 */
  readonly rate?: number;
  /** Longest wait between attempts. @default '1h' */
  readonly maxBackoff?: Duration;
}

/** Everything a user writes in `defineJob` (DESIGN.md §2). */
export interface JobOptions<C, R extends ResourceMap> {
  /** `[a-z][a-z0-9_-]*`, at most 40 characters. */
  readonly id: string;
  /** One line for `piko jobs`. @default '' */
  readonly description?: string;
  /**
   * The version of the job's code, such as `'2'` or a commit id (1 to 100 characters, no control
   * characters). Each run records the version that ran it, and `piko backfill --reprocess outdated`
   * re-runs the intervals that succeeded under another version (or none). @default - no version
   */
  readonly version?: string;
  /** Five-field cron and IANA timezone. Timezone @default 'UTC' */
  readonly schedule: { readonly cron: string; readonly timezone?: string };
  /** The first interval begins at the first tick at or after this. @default the moment the planner first sees the job */
  readonly start?: string | Date;
  /** Plan every missed interval. @default true */
  readonly catchup?: boolean;
  /** Missed intervals that ended longer ago than this are skipped (counted, not run). @default unlimited */
  readonly catchupWindow?: Duration;
  /** With `catchup: false`, the latest due interval runs only if at most this late. @default '10m' */
  readonly misfireGraceTime?: Duration;
  /**
   * Intervals of this job running at once, at most 10,000: up to 40 in an inline Map, above that in
   * a Distributed Map of Standard child executions. @default 1
   */
  readonly concurrency?: number;
  /** Retry policy. @default { attempts: 3, backoff: '30s', rate: 2, maxBackoff: '1h' } */
  readonly retry?: RetryOptions;
  /** Longest a handler or stage may run, per attempt. @default '5m' */
  readonly timeout?: Duration;
  /**
   * How long after its end an interval must have succeeded: one that has not by `end + deadline` is
   * **late**, and raises one alert (log line, `IntervalsLate` metric, the job's alarm on AWS, the
   * local webhook). @default - no deadline: intervals are never late
   */
  readonly deadline?: Duration;
  /** Memory of the job's Lambda function, MiB. @default 512 */
  readonly memoryMiB?: number;
  /** Most intervals planned per planning transaction. @default 1000 */
  readonly maxIntervalsPerDispatch?: number;
  /**
   * Jobs whose intervals this job reads (their ids). An interval `[s, e)` of this job runs once every
   * interval of each of them that overlaps `[s, e)` has succeeded and each has planned through `e`;
   * until then its run is `waiting` (DESIGN.md §9). An unknown id or a cycle is refused at load.
   * @default [] (no upstream)
   */
  readonly dependsOn?: readonly string[];
  /**
   * How long after its interval's end a run may wait for its upstream intervals; then it fails, its
   * error naming the upstream intervals still missing. Only with `dependsOn`.
   * @default - waits as long as it takes
   */
  readonly upstreamTimeout?: Duration;
  /** Schema of the job's config; a manual run or backfill may override values. @default z.object({}) */
  readonly config?: z.ZodType<C>;
  /** Resources borrowed by every run, by name. @default {} */
  readonly resources?: R;
  /** Where emitted records go, one sink per record type. @default [] */
  readonly sinks?: readonly Sink<unknown>[];
  /** The work of one interval. Exactly one of `handler` and `stages`. */
  readonly handler?: Handler<C, R>;
  /** Named stages run in order; each result is the next one's input. Exactly one of `handler` and `stages`. */
  readonly stages?: readonly Stage<C, R>[];
}

/** Every option of {@link JobOptions}, as a record so the compiler keeps the two in step. */
const JOB_OPTION_KEYS = Object.keys({
  id: true,
  description: true,
  version: true,
  schedule: true,
  start: true,
  catchup: true,
  catchupWindow: true,
  misfireGraceTime: true,
  concurrency: true,
  retry: true,
  timeout: true,
  deadline: true,
  memoryMiB: true,
  maxIntervalsPerDispatch: true,
  dependsOn: true,
  upstreamTimeout: true,
  config: true,
  resources: true,
  sinks: true,
  handler: true,
  stages: true,
} satisfies Record<keyof JobOptions<unknown, ResourceMap>, true>);
const SCHEDULE_KEYS = ['cron', 'timezone'] as const satisfies readonly (keyof JobOptions<
  unknown,
  ResourceMap
>['schedule'])[];
const RETRY_KEYS = [
  'attempts',
  'backoff',
  'rate',
  'maxBackoff',
] as const satisfies readonly (keyof RetryOptions)[];

/** A validated job with every default resolved. Durations are milliseconds. */
export interface JobDefinition<C = unknown, R extends ResourceMap = ResourceMap> {
  readonly id: string;
  readonly description: string;
  /** The version of the job's code that each run records; undefined when the job declares none. */
  readonly version: string | undefined;
  readonly schedule: CompiledSchedule;
  readonly start: Date | undefined;
  readonly catchup: boolean;
  readonly catchupWindowMs: number | undefined;
  readonly misfireGraceTimeMs: number;
  readonly concurrency: number;
  readonly retry: {
    readonly attempts: number;
    readonly backoffMs: number;
    readonly rate: number;
    readonly maxBackoffMs: number;
  };
  readonly timeoutMs: number;
  /** `deadline` in milliseconds; undefined when the job has none. */
  readonly deadlineMs: number | undefined;
  readonly memoryMiB: number;
  readonly maxIntervalsPerDispatch: number;
  /** Ids of the jobs this job's intervals wait for (`dependsOn`), in the order given; empty when none. */
  readonly dependsOn: readonly string[];
  /** How long a run may wait for its upstream after its interval's end, ms; undefined: no limit. */
  readonly upstreamTimeoutMs: number | undefined;
  readonly config: z.ZodType<C>;
  readonly resources: R;
  readonly sinks: readonly Sink<unknown>[];
  /** At least one; a `handler` job has one lambda stage named `'main'`. */
  readonly stages: readonly Stage<C, R>[];
}

/** Marks a value as a job definition, so the registry can tell jobs from other exports. */
const JOB_BRAND = Symbol.for('piko.job');

/** True for values returned by {@link defineJob}. */
export function isJobDefinition(value: unknown): value is JobDefinition {
  return typeof value === 'object' && value !== null && JOB_BRAND in value;
}

/**
 * Defines a job. Every option is validated now, and every problem is reported at once.
 * @throws JobDefinitionError listing each problem.
 */
export function defineJob<C = Record<string, never>, R extends ResourceMap = Record<string, never>>(
  options: JobOptions<C, R>,
): JobDefinition<C, R> {
  if (typeof options !== 'object' || options === null) {
    throw new JobDefinitionError('(no id)', [
      `defineJob takes an options object such as { id, schedule: { cron }, handler }, got ${show(options)}`,
    ]);
  }
  const problems: string[] = [];
  const check = <T>(what: () => T): T | undefined => {
    try {
      return what();
    } catch (error) {
      // A schedule error may hold several problems, one per line.
      problems.push(...(error instanceof PikoError ? error.message.split('\n') : [String(error)]));
      return undefined;
    }
  };
  const id = typeof options?.id === 'string' ? options.id : '';
  if (!JOB_ID_PATTERN.test(id)) {
    problems.push(
      `id ${json(options?.id)} must start with a lower-case letter and hold only a-z, 0-9, _ and -, at most 40 characters`,
    );
  }
  problems.push(...unknownOptionProblems(options, JOB_OPTION_KEYS));
  if (isObject(options.schedule))
    problems.push(...unknownOptionProblems(options.schedule, SCHEDULE_KEYS, 'schedule.'));
  if (isObject(options.retry)) problems.push(...unknownOptionProblems(options.retry, RETRY_KEYS, 'retry.'));

  const version = options.version;
  const versionProblem = version === undefined ? undefined : checkVersion(version);
  if (versionProblem) problems.push(versionProblem);

  const cron = options?.schedule?.cron;
  const timezone = options?.schedule?.timezone ?? 'UTC';
  const schedule =
    typeof cron === 'string'
      ? check(() => compileSchedule(cron, timezone))
      : void problems.push('schedule.cron is required, for example { cron: "0 2 * * *" }');

  let start: Date | undefined;
  if (options.start !== undefined) {
    start = options.start instanceof Date ? options.start : parseIsoInstant(options.start);
    if (!start || Number.isNaN(start.getTime())) {
      problems.push(
        `start ${json(options.start)} must be an ISO 8601 instant with an offset, such as "2026-01-01T00:00:00+08:00"`,
      );
      start = undefined;
    }
  }

  const duration = (value: Duration | undefined, name: string, fallback: number | undefined) =>
    value === undefined ? fallback : check(() => toMillis(value, name));
  const catchupWindowMs = duration(options.catchupWindow, 'catchupWindow', undefined);
  const misfireGraceTimeMs = duration(options.misfireGraceTime, 'misfireGraceTime', 10 * 60_000) ?? 0;
  const timeoutMs = duration(options.timeout, 'timeout', 5 * 60_000);
  const backoffMs = duration(options.retry?.backoff, 'retry.backoff', 30_000) ?? 0;
  const maxBackoffMs = duration(options.retry?.maxBackoff, 'retry.maxBackoff', 3_600_000) ?? 0;
  if (timeoutMs === 0) problems.push('timeout must be greater than 0');
  const deadlineMs = duration(options.deadline, 'deadline', undefined);
  if (deadlineMs === 0) problems.push('deadline must be greater than 0 (leave it out for no deadline)');
  const dependsOn = checkDependsOn(options.dependsOn, id, problems);
  const upstreamTimeoutMs = duration(options.upstreamTimeout, 'upstreamTimeout', undefined);
  if (options.upstreamTimeout !== undefined && dependsOn.length === 0)
    problems.push('upstreamTimeout applies only with dependsOn: add the upstream job ids or remove it');

  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    problems.push(`concurrency must be a positive integer, got ${show(concurrency)}`);
  } else if (concurrency > MAX_CONCURRENCY) {
    problems.push(
      `concurrency ${concurrency} is above ${MAX_CONCURRENCY}, the most a Distributed Map state runs at once; lower it`,
    );
  }
  const attempts = options.retry?.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100) {
    problems.push(`retry.attempts must be an integer from 1 to 100, got ${show(attempts)}`);
  }
  const rate = options.retry?.rate ?? 2;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 1) {
    problems.push(`retry.rate must be a number of at least 1, got ${show(rate)}`);
  }
  const memoryMiB = options.memoryMiB ?? 512;
  if (!Number.isInteger(memoryMiB) || memoryMiB < 128 || memoryMiB > 10_240) {
    problems.push(`memoryMiB must be an integer from 128 to 10240, got ${show(memoryMiB)}`);
  }
  const maxIntervalsPerDispatch = options.maxIntervalsPerDispatch ?? 1000;
  if (!Number.isInteger(maxIntervalsPerDispatch) || maxIntervalsPerDispatch < 1) {
    problems.push(`maxIntervalsPerDispatch must be a positive integer, got ${show(maxIntervalsPerDispatch)}`);
  }

  if (schedule && catchupWindowMs !== undefined) {
    const longest = longestIntervalMs(schedule);
    if (longest !== undefined && catchupWindowMs < longest) {
      problems.push(
        `catchupWindow (${catchupWindowMs} ms) is shorter than one interval of "${schedule.cron}" (${longest} ms): no missed interval could ever run; make it at least ${longest} ms or remove it`,
      );
    }
  }
  if (schedule && !schedule.nextTick(new Date(0)) && !schedule.previousTick(new Date(0))) {
    problems.push(`schedule.cron "${schedule.cron}" never fires`);
  }

  const stages = resolveStages(options, problems);
  if (options.config !== undefined && !(options.config instanceof z.ZodType)) {
    problems.push('config must be a zod schema, for example z.object({ region: z.string().default("eu") })');
  } else if (options.config !== undefined) {
    // A scheduled run gets no override: a field without a default would fail every one of them.
    const parsed = options.config.safeParse({});
    if (!parsed.success) {
      const fields = parsed.error.issues.map(
        (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
      );
      problems.push(
        `config must accept no override (a scheduled run has none), but {} fails it (${fields.join('; ')}): give every field a default (.default(…)) or make it .optional()`,
      );
    }
  }
  const sinks = Array.isArray(options.sinks) ? options.sinks : [];
  if (options.sinks !== undefined && !Array.isArray(options.sinks))
    problems.push('sinks must be a list, for example [upsertSink(Row, { table, key })]');
  const sinkTypes = new Set<string>();
  for (const [index, sink] of sinks.entries()) {
    if (typeof sink?.recordType?.name !== 'string') {
      problems.push(
        `sink ${index + 1} is not a sink (upsertSink(...), jsonLinesSink(...)), got ${show(sink)}`,
      );
      continue;
    }
    const reserved = typeof sink.table?.name === 'string' ? reservedTableProblem(sink.table.name) : undefined;
    if (reserved) problems.push(`sink ${index + 1}: ${reserved}`);
    if (sinkTypes.has(sink.recordType.name)) {
      problems.push(`two sinks for record type "${sink.recordType.name}"; keep one sink per record type`);
    }
    sinkTypes.add(sink.recordType.name);
  }
  for (const [name, resource] of Object.entries(options.resources ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      problems.push(`resource name "${name}" must be an identifier`);
    if (typeof resource?.acquire !== 'function') problems.push(`resource "${name}" is not a Resource`);
  }

  if (problems.length > 0 || !schedule || timeoutMs === undefined)
    throw new JobDefinitionError(id || '(no id)', problems);

  return Object.freeze({
    [JOB_BRAND]: true,
    id,
    description: options.description ?? '',
    version,
    schedule,
    start,
    catchup: options.catchup ?? true,
    catchupWindowMs,
    misfireGraceTimeMs,
    concurrency,
    retry: { attempts, backoffMs, rate, maxBackoffMs },
    timeoutMs,
    deadlineMs,
    memoryMiB,
    maxIntervalsPerDispatch,
    dependsOn,
    upstreamTimeoutMs,
    config: (options.config ?? z.object({})) as z.ZodType<C>,
    resources: (options.resources ?? {}) as R,
    sinks,
    stages,
  });
}

function resolveStages<C, R extends ResourceMap>(
  options: JobOptions<C, R>,
  problems: string[],
): Stage<C, R>[] {
  const { handler, stages } = options;
  if (handler !== undefined && stages !== undefined) {
    problems.push('give either handler or stages, not both');
    return [];
  }
  if (handler === undefined && stages === undefined) {
    problems.push('give a handler, or stages: [lambda(...), fargate(...)]');
    return [];
  }
  if (handler !== undefined) {
    if (typeof handler !== 'function') problems.push('handler must be a function');
    return [{ kind: 'lambda', name: 'main', handler }];
  }
  if (!Array.isArray(stages) || stages.length === 0) {
    problems.push('stages must be a non-empty list of lambda(...) and fargate(...) stages');
    return [];
  }
  const seen = new Set<string>();
  for (const [index, stage] of stages.entries()) {
    const name: unknown = stage?.name;
    if (typeof name !== 'string' || !STAGE_NAME_PATTERN.test(name)) {
      problems.push(
        `stage ${index + 1} name ${json(name)} must match [a-z][a-z0-9_-]*, at most 30 characters`,
      );
    } else if (seen.has(stage.name)) {
      problems.push(`two stages are named "${stage.name}"; stage names must be unique`);
    }
    seen.add(stage?.name);
    if (typeof stage === 'object' && stage !== null) {
      const keys: readonly string[] | undefined = STAGE_KEYS[stage.kind as Stage['kind']];
      if (keys === undefined)
        problems.push(
          `stage "${show(name)}": kind ${json(stage.kind)} must be "lambda" or "fargate"; build stages with lambda(...) or fargate(...)`,
        );
      else
        problems.push(
          ...unknownOptionProblems(stage, keys).map((problem) => `stage "${show(name)}": ${problem}`),
        );
      const built = (stage as { [STAGE_PROBLEMS]?: readonly string[] })[STAGE_PROBLEMS] ?? [];
      problems.push(...built.map((problem) => `stage "${show(name)}": ${problem}`));
    }
    if (typeof stage?.handler !== 'function') problems.push(`stage "${show(name)}" has no handler function`);
    if (stage?.kind === 'fargate') {
      const sizes = typeof stage.cpu === 'number' ? FARGATE_SIZES[stage.cpu] : undefined;
      if (!sizes) {
        problems.push(
          `stage "${show(name)}": cpu ${show(stage.cpu)} must be one of ${Object.keys(FARGATE_SIZES).join(', ')}`,
        );
      } else {
        const [min, max, step] = sizes;
        const memory = stage.memoryMiB;
        if (typeof memory !== 'number' || memory < min || memory > max || (memory - min) % step !== 0) {
          problems.push(
            `stage "${show(name)}": memoryMiB ${show(stage.memoryMiB)} is not allowed with cpu ${stage.cpu} (from ${min} to ${max} in steps of ${step})`,
          );
        }
      }
    }
  }
  return [...stages];
}

/** The validated `dependsOn` list (empty when absent), its problems pushed to `problems`. */
function checkDependsOn(value: unknown, id: string, problems: string[]): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) {
    problems.push(`dependsOn must be a list of job ids, such as ["hourly_events"], got ${json(value)}`);
    return Object.freeze([]);
  }
  const ids: string[] = [];
  for (const upstream of value as unknown[]) {
    if (typeof upstream !== 'string' || !JOB_ID_PATTERN.test(upstream)) {
      problems.push(`dependsOn: ${json(upstream)} is not a job id ([a-z][a-z0-9_-]*, at most 40 characters)`);
    } else if (upstream === id) {
      problems.push(`dependsOn: a job cannot depend on itself ("${id}")`);
    } else if (ids.includes(upstream)) {
      problems.push(`dependsOn: "${upstream}" is listed twice; list each upstream job once`);
    } else {
      ids.push(upstream);
    }
  }
  return Object.freeze(ids);
}

/** Why a code version is refused, or undefined when it is fine. */
function checkVersion(version: unknown): string | undefined {
  const must = `version must be a string of 1 to ${MAX_VERSION_LENGTH} characters without control characters, such as "2" or a commit id`;
  if (typeof version !== 'string' || version.length === 0) return `${must}, got ${json(version)}`;
  if (version.length > MAX_VERSION_LENGTH) return `${must}, got ${version.length} characters`;
  // Control characters would break status lines; a lone surrogate is not text a database keeps.
  if (/[\p{Cc}\p{Cs}]/u.test(version)) return `${must}, got ${json(version)}`;
  return undefined;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/** Any value as text for a problem; never throws (null-prototype objects, symbols, bigints). */
function show(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** A value as JSON for a problem, or {@link show} when it has none; never throws. */
function json(value: unknown): string {
  try {
    return JSON.stringify(value) ?? show(value);
  } catch {
    return show(value);
  }
}

/**
 * The largest config override (of a manual run or a backfill), in bytes of its JSON text (UTF-8).
 * A manual run stores it with its run, a backfill once with the backfill; every stage reads it, so it
 * stays small (8 KiB). The one constant every check uses.
 */
export const MAX_CONFIG_OVERRIDE_BYTES = 8_192;

/**
 * Validates a config override (a manual run's, a backfill's) against the job's schema and returns
 * the parsed config, defaults applied. The values of fields marked {@link secret} are registered with
 * the redactor, so no log line, recorded error or CLI message shows them.
 * @throws ConfigOverrideTooLargeError over {@link MAX_CONFIG_OVERRIDE_BYTES}; InputError naming the job
 * and every field that is wrong.
 */
export function parseJobConfig<C>(job: JobDefinition<C, ResourceMap>, value: unknown): C {
  const bytes = value === undefined || value === null ? 0 : Buffer.byteLength(JSON.stringify(value) ?? '');
  if (bytes > MAX_CONFIG_OVERRIDE_BYTES) {
    throw new ConfigOverrideTooLargeError(
      `Config override for job "${job.id}" is ${bytes} bytes of JSON; the limit is ${MAX_CONFIG_OVERRIDE_BYTES} bytes. ` +
        'Pass large inputs through a resource the job reads (a table, a file, a bucket) instead.',
    );
  }
  // The values of fields marked secret() are redacted from every log line and error from now on.
  registerConfigSecrets(job.config, value);
  const parsed = job.config.safeParse(value ?? {});
  if (parsed.success) {
    registerConfigSecrets(job.config, parsed.data);
    return parsed.data;
  }
  const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new InputError(redact(`Invalid config for job "${job.id}": ${issues.join('; ')}`));
}

/**
 * Validates a config override as an operator gives it (`--config`, the UI's field): as
 * {@link parseJobConfig}, and refusing keys the job's schema does not know, at any depth of its
 * objects (the schema would drop them without a word: a misspelt key ran with the default). Only
 * where an override is given: a stored run's config is parsed as it is, so a field removed from the
 * schema later does not fail old runs.
 * @throws InputError naming every unknown key (with the known key it is closest to); see parseJobConfig.
 */
export function parseConfigOverride<C>(job: JobDefinition<C, ResourceMap>, value: unknown): C {
  const unknown = unknownKeys(job.config, value, '');
  if (unknown.length > 0) {
    throw new InputError(
      redact(
        `Invalid config for job "${job.id}": ${unknown.join('; ')}; the schema's keys are the only ones a config may have`,
      ),
    );
  }
  return parseJobConfig(job, value);
}

/** The keys of `value` that the object schemas of `schema` do not declare, each with its path. */
function unknownKeys(schema: z.ZodType, value: unknown, path: string): string[] {
  const object = objectSchemaOf(schema);
  if (!object || typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const shape = object.shape as Record<string, z.ZodType>;
  const known = Object.keys(shape);
  return Object.entries(value).flatMap(([key, inner]) => {
    const at = path ? `${path}.${key}` : key;
    if (!Object.hasOwn(shape, key)) {
      const near = nearestName(key, known);
      return [`unknown key "${at}"${near ? ` (did you mean "${path ? `${path}.` : ''}${near}"?)` : ''}`];
    }
    return unknownKeys(shape[key]!, inner, at);
  });
}

/** The object schema inside optional, nullable and default wrappers; undefined for any other. */
function objectSchemaOf(schema: z.ZodType): z.ZodObject | undefined {
  let current: z.ZodType = schema;
  for (let depth = 0; depth < 8; depth++) {
    if (current instanceof z.ZodObject) return current;
    const inner = (current as { _zod?: { def?: { innerType?: z.ZodType } } })._zod?.def?.innerType;
    if (!inner) return undefined;
    current = inner;
  }
  return undefined;
}

/** The form of an ISO 8601 instant with an offset: date, hours and minutes, optional seconds and ms. */
const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/**
 * Parses an ISO 8601 instant that carries an offset (`Z` or `±hh:mm`); undefined otherwise, and for a
 * date or time that does not exist (`2026-02-30`, `25:00`): `Date` would roll those over to another
 * day without a word.
 */
export function parseIsoInstant(text: string): Date | undefined {
  if (typeof text !== 'string') return undefined;
  const match = ISO_INSTANT.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = match
    .slice(1)
    .map((field) => (field === undefined ? undefined : Number(field)));
  const calendarDay = new Date(Date.UTC(year!, month! - 1, day!));
  if (
    calendarDay.getUTCFullYear() !== year ||
    calendarDay.getUTCMonth() !== month! - 1 ||
    calendarDay.getUTCDate() !== day ||
    hour! > 23 ||
    minute! > 59 ||
    second > 59 ||
    offsetHours > 23 ||
    offsetMinutes > 59
  ) {
    return undefined;
  }
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * Why `text` is not an instant {@link parseIsoInstant} takes, as a message about `name` (a flag, a
 * field): the form is wrong, or the form is right but the date or time does not exist.
 */
export function isoInstantRefusal(name: string, text: string): string {
  return typeof text === 'string' && ISO_INSTANT.test(text)
    ? `${name} ${JSON.stringify(text)} is a date or time that does not exist (a day past the end of its month, an hour above 23, say): give one that does, such as 2026-03-01T00:00:00Z`
    : `${name} ${JSON.stringify(text)} is not an ISO 8601 instant with an offset, such as 2026-03-01T00:00:00Z`;
}

/** Longest interval among the first few hundred from a fixed reference; undefined if the cron is too sparse to tell. */
function longestIntervalMs(schedule: CompiledSchedule): number | undefined {
  const from = new Date(Date.UTC(2026, 0, 1));
  const to = new Date(Date.UTC(2030, 0, 1));
  let longest: number | undefined;
  let seen = 0;
  for (const interval of schedule.intervals(from, to)) {
    const length = interval.end.getTime() - interval.start.getTime();
    if (longest === undefined || length > longest) longest = length;
    if (++seen >= 400) break;
  }
  return longest;
}
