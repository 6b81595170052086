/**
 * The control events that read a job's runs and start one interval, for `piko runs --aws` and
 * `piko ui --aws`: `runs` (a job's runs, as `piko runs` lists them), `intervals` (the grid's merged
 * spans or time buckets), `history` (the job's operator actions and alerts, newest first) and `run`
 * (run now or rerun one interval, a manual run). Their answers are JSON: instants as ISO 8601,
 * configs, outputs and action details with their secrets redacted by the dispatcher.
 */

import type { IntervalJson } from '../interval.ts';
import { parseIsoInstant } from '../job.ts';
import type { AlertKind, AlertRecord } from '../store/alerts.ts';
import {
  type BackfillRecord,
  type OperatorAction,
  RUN_STATUSES,
  type RunBucket,
  type RunRecord,
  type RunSpan,
  type RunStatus,
} from '../store/types.ts';
import { isActor } from './actor.ts';

/** Runs a `runs` event lists when it names no limit. */
export const DEFAULT_RUNS_EVENT_LIMIT = 100;
/** Runs one `runs` answer holds at most (a Lambda answer is at most 6 MB). */
export const MAX_RUNS_EVENT_LIMIT = 1_000;
/** Actions (and alerts) one `history` answer holds at most. */
export const MAX_HISTORY_EVENT_LIMIT = 500;
/** Spans one `intervals` answer holds at most. */
export const MAX_INTERVAL_SPANS = 5_000;
/** Buckets one `intervals` answer covers at most. */
export const MAX_INTERVAL_BUCKETS = 5_000;

/** A job's runs, as `piko runs` selects them. */
export interface RunsEvent {
  readonly action: 'runs';
  readonly jobId: string;
  /** Intervals starting at or after this (ISO 8601). @default no lower bound */
  readonly from?: string;
  /** Intervals starting before this (ISO 8601). @default no upper bound */
  readonly to?: string;
  /** @default every status */
  readonly statuses?: readonly RunStatus[];
  /** Only this backfill's runs; null: only the scheduled lane's. @default every run */
  readonly backfillId?: string | null;
  /** @default 100, at most 1000 */
  readonly limit?: number;
  /** The latest intervals first. @default false */
  readonly newestFirst?: boolean;
}

/** The grid of a job over a range: merged spans (with `limit`) or counts per bucket (with `bucketMs`). */
export interface IntervalsEvent {
  readonly action: 'intervals';
  readonly jobId: string;
  readonly from: string;
  readonly to: string;
  /** Spans at most (one more tells the range holds too many). */
  readonly limit?: number;
  /** Bucket width in milliseconds. */
  readonly bucketMs?: number;
}

/** A job's operator actions and alerts, the newest first (the UI's interval and grid pages). */
export interface HistoryEvent {
  readonly action: 'history';
  readonly jobId: string;
  /** Actions at most, and alerts at most. @default 100, at most 500 */
  readonly limit?: number;
}

/** Run one interval now (a manual run), with a config override or, for a rerun, its run's config. */
export interface RunIntervalEvent {
  readonly action: 'run';
  readonly jobId: string;
  /** The interval's start (ISO 8601), a tick of the job's schedule. */
  readonly start: string;
  /** The config override; ignored with `rerun`. @default null (the job's defaults) */
  readonly config?: unknown;
  /** Rerun with the config the interval's run has (which the `runs` answer shows only redacted). @default false */
  readonly rerun?: boolean;
  /** Who asks, recorded with the run in `piko_actions` (1 to 200 characters). @default none: not recorded */
  readonly actor?: string;
  /** Why, recorded with it. @default null */
  readonly reason?: string | null;
}

/** A run as the dispatcher answers it. */
export type RunJson = Omit<
  RunRecord,
  'interval' | 'notBefore' | 'createdAt' | 'updatedAt' | 'startedAt' | 'finishedAt' | 'taskArn'
> & {
  readonly interval: IntervalJson;
  /** The ECS task of the run's Fargate stage. @default null (absent from dispatchers deployed before it) */
  readonly taskArn?: string | null;
  readonly notBefore: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
};

/** A backfill as the dispatcher answers it. */
export type BackfillJson = Omit<BackfillRecord, 'range' | 'cursor' | 'createdAt' | 'updatedAt'> & {
  readonly range: IntervalJson;
  readonly cursor: string;
  readonly createdAt: string;
  readonly updatedAt: string;
};

/** The answer to `runs`. */
export interface RunsResponse {
  readonly action: 'runs';
  readonly jobId: string;
  readonly runs: readonly RunJson[];
  /** The backfills the runs belong to. */
  readonly backfills: readonly BackfillJson[];
}

/** The answer to `intervals`. */
export interface IntervalsResponse {
  readonly action: 'intervals';
  readonly jobId: string;
  readonly spans?: readonly (Omit<RunSpan, 'start' | 'end'> & {
    readonly start: string;
    readonly end: string;
  })[];
  readonly buckets?: readonly RunBucket[];
}

/** An operator action as the dispatcher answers it. */
export type OperatorActionJson = Omit<OperatorAction, 'at'> & { readonly at: string };

/** An alert as the dispatcher answers it. */
export interface AlertJson {
  readonly jobId: string;
  readonly kind: AlertKind;
  readonly start: string;
  readonly end: string;
  readonly intervals: number;
  readonly raisedAt: string;
  readonly deliveredAt: string | null;
  readonly error: string | null;
  /** When it was raised; null for a claim not raised yet; absent from a dispatcher before migration 12. */
  readonly announcedAt?: string | null;
}

/** The answer to `history`. */
export interface HistoryResponse {
  readonly action: 'history';
  readonly jobId: string;
  /** The job's operator actions, newest first. */
  readonly actions: readonly OperatorActionJson[];
  /** The job's alerts, the latest intervals first. */
  readonly alerts: readonly AlertJson[];
}

/** The answer to `run`. */
export interface RunIntervalResponse {
  readonly action: 'run';
  readonly jobId: string;
  readonly interval: IntervalJson;
  /** The execution started for it. */
  readonly executionName: string;
}

/** Keys each of these actions accepts. */
export const RUN_EVENT_KEYS: Readonly<Record<RunEventAction, readonly string[]>> = {
  runs: ['action', 'jobId', 'from', 'to', 'statuses', 'backfillId', 'limit', 'newestFirst'],
  intervals: ['action', 'jobId', 'from', 'to', 'limit', 'bucketMs'],
  history: ['action', 'jobId', 'limit'],
  run: ['action', 'jobId', 'start', 'config', 'rerun', 'actor', 'reason'],
};

/** The actions of the events of this module. */
export type RunEventAction = 'runs' | 'intervals' | 'history' | 'run';

/**
 * Parses the rest of a `runs`, `intervals`, `history` or `run` event once its action and job id are
 * known; adds a line to `problems` for each bad key.
 */
export function parseRunEvent(
  action: RunEventAction,
  jobId: string | undefined,
  event: Readonly<Record<string, unknown>>,
  problems: string[],
): RunsEvent | IntervalsEvent | HistoryEvent | RunIntervalEvent | undefined {
  const before = problems.length;
  const own = (key: string): unknown => (Object.hasOwn(event, key) ? event[key] : undefined);
  const instant = (key: string, required: boolean): string | undefined => {
    const value = own(key);
    if (value === undefined && !required) return undefined;
    if (typeof value === 'string' && parseIsoInstant(value)) return value;
    problems.push(
      `${key} must be an ISO 8601 instant with an offset, such as "2026-01-01T00:00:00Z", got ${describe(value)}`,
    );
    return undefined;
  };
  const count = (key: string, max: number): number | undefined => {
    const value = own(key);
    if (value === undefined) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max) return value;
    problems.push(`${key} must be a whole number from 1 to ${max}, got ${describe(value)}`);
    return undefined;
  };
  const flag = (key: string): boolean | undefined => {
    const value = own(key);
    if (value === undefined || typeof value === 'boolean') return value;
    problems.push(`${key} must be true or false, got ${describe(value)}`);
    return undefined;
  };
  let parsed: RunsEvent | IntervalsEvent | HistoryEvent | RunIntervalEvent | undefined;
  switch (action) {
    case 'runs': {
      const statuses = own('statuses');
      if (
        statuses !== undefined &&
        !(Array.isArray(statuses) && statuses.every((status) => RUN_STATUSES.includes(status as RunStatus)))
      ) {
        problems.push(`statuses must be a list of ${RUN_STATUSES.join(', ')}, got ${describe(statuses)}`);
      }
      const backfillId = own('backfillId');
      if (backfillId !== undefined && backfillId !== null && typeof backfillId !== 'string') {
        problems.push(`backfillId must be a backfill id or null, got ${describe(backfillId)}`);
      }
      const event: RunsEvent = {
        action,
        jobId: jobId ?? '',
        from: instant('from', false),
        to: instant('to', false),
        statuses: statuses as RunStatus[] | undefined,
        backfillId: backfillId as string | null | undefined,
        limit: count('limit', MAX_RUNS_EVENT_LIMIT),
        newestFirst: flag('newestFirst'),
      };
      parsed = event;
      break;
    }
    case 'intervals': {
      const limit = count('limit', MAX_INTERVAL_SPANS + 1);
      const bucketMs = own('bucketMs');
      if (
        bucketMs !== undefined &&
        !(typeof bucketMs === 'number' && Number.isInteger(bucketMs) && bucketMs >= 1)
      ) {
        problems.push(
          `bucketMs must be a whole number of milliseconds of 1 or more, got ${describe(bucketMs)}`,
        );
      }
      if ((limit === undefined) === (bucketMs === undefined)) {
        problems.push('give exactly one of limit (merged spans) and bucketMs (counts per time bucket)');
      }
      const from = instant('from', true);
      const to = instant('to', true);
      if (from && to && typeof bucketMs === 'number') {
        const buckets = (Date.parse(to) - Date.parse(from)) / bucketMs;
        if (buckets > MAX_INTERVAL_BUCKETS) {
          problems.push(
            `from → to holds ${Math.ceil(buckets)} buckets of ${bucketMs} ms; at most ${MAX_INTERVAL_BUCKETS}`,
          );
        }
      }
      parsed = {
        action,
        jobId: jobId ?? '',
        from: from ?? '',
        to: to ?? '',
        limit,
        bucketMs: bucketMs as number | undefined,
      };
      break;
    }
    case 'history':
      parsed = { action, jobId: jobId ?? '', limit: count('limit', MAX_HISTORY_EVENT_LIMIT) };
      break;
    case 'run': {
      const actor = own('actor');
      if (actor !== undefined && !isActor(actor)) {
        problems.push(`actor must be who asks (1 to 200 characters), got ${describe(actor)}`);
      }
      const reason = own('reason') ?? null;
      if (reason !== null && typeof reason !== 'string') {
        problems.push(`reason must be a string, got ${describe(reason)}`);
      }
      parsed = {
        action,
        jobId: jobId ?? '',
        start: instant('start', true) ?? '',
        config: own('config') ?? null,
        rerun: flag('rerun'),
        ...(isActor(actor) && { actor, reason: reason as string | null }),
      };
      break;
    }
  }
  return problems.length > before || jobId === undefined ? undefined : parsed;
}

/** A run as JSON, its config and output as `redactJson` leaves them. */
export function runToJson(
  run: RunRecord,
  redactJson: (value: unknown) => unknown = (value) => value,
): RunJson {
  return {
    ...run,
    interval: { start: run.interval.start.toISOString(), end: run.interval.end.toISOString() },
    config: redactJson(run.config),
    output: redactJson(run.output),
    notBefore: run.notBefore?.toISOString() ?? null,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
  };
}

/** A run read back from its JSON. */
export function runFromJson(json: RunJson): RunRecord {
  const date = (text: string | null) => (text === null ? null : new Date(text));
  return {
    ...json,
    interval: { start: new Date(json.interval.start), end: new Date(json.interval.end) },
    taskArn: json.taskArn ?? null,
    notBefore: date(json.notBefore),
    createdAt: new Date(json.createdAt),
    updatedAt: new Date(json.updatedAt),
    startedAt: date(json.startedAt),
    finishedAt: date(json.finishedAt),
  };
}

/** A backfill as JSON, its config as `redactJson` leaves it. */
export function backfillToJson(
  backfill: BackfillRecord,
  redactJson: (value: unknown) => unknown = (value) => value,
): BackfillJson {
  return {
    ...backfill,
    config: redactJson(backfill.config),
    range: { start: backfill.range.start.toISOString(), end: backfill.range.end.toISOString() },
    cursor: backfill.cursor.toISOString(),
    createdAt: backfill.createdAt.toISOString(),
    updatedAt: backfill.updatedAt.toISOString(),
  };
}

/** A backfill read back from its JSON. */
export function backfillFromJson(json: BackfillJson): BackfillRecord {
  return {
    ...json,
    range: { start: new Date(json.range.start), end: new Date(json.range.end) },
    cursor: new Date(json.cursor),
    createdAt: new Date(json.createdAt),
    updatedAt: new Date(json.updatedAt),
  };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** An operator action as JSON, its details as `redactJson` leaves them. */
export function actionToJson(
  action: OperatorAction,
  redactJson: (value: unknown) => unknown = (value) => value,
): OperatorActionJson {
  return { ...action, details: redactJson(action.details), at: action.at.toISOString() };
}

/** An operator action read back from its JSON. */
export function actionFromJson(json: OperatorActionJson): OperatorAction {
  return { ...json, at: new Date(json.at) };
}

/** An alert as JSON. */
export function alertToJson(alert: AlertRecord): AlertJson {
  return {
    jobId: alert.jobId,
    kind: alert.kind,
    start: alert.start.toISOString(),
    end: alert.end.toISOString(),
    intervals: alert.intervals,
    raisedAt: alert.raisedAt.toISOString(),
    deliveredAt: alert.deliveredAt?.toISOString() ?? null,
    error: alert.error,
    announcedAt: alert.announcedAt?.toISOString() ?? null,
  };
}

/** An alert read back from its JSON. */
export function alertFromJson(json: AlertJson): AlertRecord {
  return {
    ...json,
    start: new Date(json.start),
    end: new Date(json.end),
    raisedAt: new Date(json.raisedAt),
    deliveredAt: json.deliveredAt === null ? null : new Date(json.deliveredAt),
    // A dispatcher before migration 12 announced every alert as it claimed it.
    announcedAt:
      json.announcedAt === undefined
        ? new Date(json.raisedAt)
        : json.announcedAt === null
          ? null
          : new Date(json.announcedAt),
  };
}
