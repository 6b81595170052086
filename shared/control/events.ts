/**
 * The events the dispatcher (control) Lambda accepts and what it answers. Sent by EventBridge
 * Scheduler (`{ jobId }`), the job workflows ("continue"), the backfill state machine and the
 * `--aws` CLI. {@link parseControlEvent} turns any JSON value into one of them or an InputError.
 */

import { InputError } from '../errors.ts';
import type { IntervalJson } from '../interval.ts';
import { JOB_ID_PATTERN, parseIsoInstant } from '../job.ts';
import {
  type BackfillAction,
  type BackfillCounts,
  type BackfillRequest,
  REPROCESS,
  type Reprocess,
} from '../planner/backfill.ts';
import type { CancelOutcome, MarkOutcome } from '../planner/operator.ts';
import type { ExecutionInput } from '../workflow/starter.ts';
import { isActor } from './actor.ts';
import type { BackfillSummaryJson } from './backfills.ts';
import {
  type HistoryEvent,
  type HistoryResponse,
  type IntervalsEvent,
  type IntervalsResponse,
  parseRunEvent,
  RUN_EVENT_KEYS,
  type RunIntervalEvent,
  type RunIntervalResponse,
  type RunsEvent,
  type RunsResponse,
} from './run-events.ts';
import type { JobStatus } from './status.ts';

/** Plan the job's due intervals within the invocation's time budget, then dispatch (EventBridge Scheduler). */
export interface DispatchEvent {
  readonly action: 'dispatch';
  readonly jobId: string;
}
/** A scheduled execution of the job ended: plan and dispatch again, so a backlog drains at once. */
export interface ContinueEvent {
  readonly action: 'continue';
  readonly jobId: string;
  /**
   * The execution that asks, at its last step: its Map is over, so its runs still queued or running
   * were never recorded, and are requeued rather than taken for a live execution's.
   * @default unknown (the starter's status of every execution is asked)
   */
  readonly executionName?: string;
}
/** Watermark, run counts and recent failures of one job, or of every job. */
export interface StatusEvent {
  readonly action: 'status';
  /** @default every job */
  readonly jobId?: string;
}
/**
 * Pauses or resumes a job in the state table (the CLI also disables or enables its schedules),
 * recorded as an operator action with who and why.
 */
export interface PauseEvent {
  readonly action: 'pause' | 'resume';
  readonly jobId: string;
  /** Who asks. @default the action is recorded as asked by {@link UNNAMED_ACTOR} */
  readonly actor?: string;
  /** Why. @default null */
  readonly reason?: string | null;
}

/** The actor a pause or resume event that names none is recorded with. */
export const UNNAMED_ACTOR = 'unknown (the event named nobody)';
/** The backfill state machine's first step: validate and plan (or dry-run) a backfill. */
export interface BackfillPlanEvent {
  readonly action: 'backfill-plan';
  readonly request: BackfillRequest;
}
/** The backfill state machine's loop step: the next batch of the backfill to run, if any. */
export interface BackfillNextEvent {
  readonly action: 'backfill-next';
  readonly jobId: string;
  readonly backfillId: string;
  readonly reverse: boolean;
}

/**
 * Checks every job's deadline and raises what is newly late (the watchdog schedule, every 5 minutes):
 * the `IntervalsLate` metric per job, which the job's alarm sends to the stack's SNS topic.
 */
export interface WatchdogEvent {
  readonly action: 'watchdog';
}
/** Every backfill (or a job's), newest first, with its progress (`piko backfills --aws`). */
export interface BackfillsEvent {
  readonly action: 'backfills';
  /** @default every job */
  readonly jobId?: string;
}
/** An operator pauses, resumes or cancels a backfill (`piko backfill pause|resume|cancel --aws`). */
export interface BackfillChangeEvent {
  readonly action: 'backfill-pause' | 'backfill-resume' | 'backfill-cancel';
  readonly backfillId: string;
  /** Who asked (the CLI's OS user and host), recorded with the action. */
  readonly actor: string;
  /** Why. @default null */
  readonly reason?: string | null;
}

/**
 * `piko cancel --aws`: cancels the job's unfinished runs of intervals starting in `[from, to)`,
 * recorded with `actor` and `reason`. A running run's Fargate task is stopped at once; any other
 * running stage sees the cancel at its next poll.
 */
export interface CancelEvent {
  readonly action: 'cancel';
  readonly jobId: string;
  /** ISO 8601. */
  readonly from: string;
  /** ISO 8601. */
  readonly to: string;
  /** Who asks (the CLI's `user@host`). */
  readonly actor: string;
  /** @default null */
  readonly reason?: string | null;
}

/** `piko mark --aws`: marks the intervals of a range succeeded or skipped without running them. */
export interface MarkEvent {
  readonly action: 'mark';
  readonly jobId: string;
  /** ISO 8601. */
  readonly from: string;
  /** ISO 8601. */
  readonly to: string;
  readonly as: 'succeeded' | 'skipped';
  /** @default false */
  readonly dryRun?: boolean;
  readonly actor: string;
  readonly reason: string;
}

/** Every event the dispatcher accepts. */
export type ControlEvent =
  | CancelEvent
  | MarkEvent
  | DispatchEvent
  | WatchdogEvent
  | ContinueEvent
  | StatusEvent
  | PauseEvent
  | BackfillPlanEvent
  | BackfillNextEvent
  | RunsEvent
  | IntervalsEvent
  | HistoryEvent
  | RunIntervalEvent
  | BackfillsEvent
  | BackfillChangeEvent;

/** The answer to `dispatch` and `continue`. */
export interface DispatchResponse {
  readonly action: 'dispatch' | 'continue';
  readonly jobId: string;
  /** Intervals given a pending run. */
  readonly planned: number;
  /** Intervals passed over by the catch-up rules. */
  readonly skipped: number;
  /** The job's watermark after planning (ISO 8601). */
  readonly watermark: string;
  /** True when due intervals are left for the next call (time budget or per-transaction limit). */
  readonly more: boolean;
  readonly paused: boolean;
  /** Executions started, with their run counts. */
  readonly started: readonly { readonly executionName: string; readonly runs: number }[];
  /** Executions of queued runs started again under the same name. */
  readonly restarted: readonly string[];
  /** Runs of ended executions put back to pending (dispatchable after their requeue delay). */
  readonly requeued: number;
  /** Executions of the scheduled lane already running. */
  readonly live: readonly string[];
  /** Why the job was neither planned nor dispatched: this clock disagrees with its state (ClockSkewError). */
  readonly clockSkew?: string;
  /** Jobs with upstream jobs: waiting runs made pending (their upstream intervals all succeeded). */
  readonly released?: number;
  /** Jobs with upstream jobs: waiting runs failed, their `upstreamTimeout` passed. */
  readonly timedOut?: number;
  /**
   * When the job must be dispatched again (ISO 8601), because a requeued run of the job becomes
   * dispatchable then and nothing else would dispatch it sooner (no live execution of the job, no
   * tick before it). The workflow that asked `continue` waits until then and asks again; for anyone
   * else, `wakeExecution` was started to do so. Absent when there is nothing to wake for.
   */
  readonly wakeAt?: string;
  /**
   * A tick or a downstream dispatch with a `wakeAt`: the execution started to wait for it (it holds no
   * runs; its last step asks `continue` at `wakeAt`).
   */
  readonly wakeExecution?: string;
  /** `continue` only: the dispatches of the job's downstream jobs that followed (DESIGN.md §9). */
  readonly downstream?: readonly DispatchResponse[];
}

/** The answer to `status`. */
export interface StatusResponse {
  readonly action: 'status';
  /** The jobs asked for, in the dispatcher's job order. */
  readonly jobs: readonly JobStatus[];
}

/** The answer to `pause` and `resume`. */
export interface PauseResponse {
  readonly action: 'pause' | 'resume';
  readonly jobId: string;
  readonly paused: boolean;
}

/** The answer to `backfill-plan`: small, it is the backfill state machine's state. */
export interface BackfillPlanResponse {
  readonly action: 'backfill-plan';
  readonly backfillId: string;
  readonly jobId: string;
  readonly dryRun: boolean;
  readonly reverse: boolean;
  /** True when the whole range is planned; otherwise `backfill-next` plans the rest first. */
  readonly planned: boolean;
  /** What planning did so far (for a dry run: would do), by action. */
  readonly counts: BackfillCounts;
  /** Dry run only: the first intervals of the plan, in the order they would run. */
  readonly sample?: readonly (IntervalJson & { readonly action: BackfillAction })[];
  /** Dry run only: intervals in the plan beyond `sample`. */
  readonly notShown?: number;
  /**
   * `downstream` requests: per downstream job, in dependency order, the intervals that re-run after
   * this backfill (a dry run: would); absent when an existing chain resumed.
   */
  readonly downstream?: readonly DownstreamPlanJson[];
}

/** What re-runs of one downstream job, in a `backfill-plan` answer (small: the state carries it). */
export interface DownstreamPlanJson {
  readonly jobId: string;
  readonly dependsOn: readonly string[];
  /** Intervals that re-run. */
  readonly intervals: number;
  /** The first of its ranges (adjacent intervals merged), oldest first, each with its interval count. */
  readonly ranges: readonly (IntervalJson & { readonly intervals: number })[];
  /** Ranges beyond `ranges`. */
  readonly rangesNotShown: number;
}

/** The answer to `backfill-next`. */
export interface BackfillNextResponse {
  readonly action: 'backfill-next';
  /** True when every run of the backfill has ended (the backfill is done), or it was cancelled. */
  readonly done: boolean;
  /** True when an operator cancelled the backfill (done is true too: the state machine ends). */
  readonly cancelled?: boolean;
  /** The batch to run now: start it (`startExecution.sync`) under `execution.executionName`. */
  readonly execution?: ExecutionInput;
  /** The job's state machine, with `execution`. */
  readonly stateMachineArn?: string;
  /** Without `execution` and not done: a batch of this backfill is running, or the job is paused; ask again after this wait. */
  readonly waitSeconds?: number;
  /**
   * Not done: this backfill is done and its chain goes on with this downstream one (`--downstream`);
   * the state machine drives it from now on.
   */
  readonly following?: { readonly jobId: string; readonly backfillId: string; readonly reverse: false };
}

/** The answer to `watchdog`. */
export interface WatchdogResponse {
  readonly action: 'watchdog';
  /** Jobs with a deadline, checked. */
  readonly checked: number;
  /** The late alerts raised now: per job, the ranges of its newly late intervals. */
  readonly late: readonly {
    readonly jobId: string;
    readonly count: number;
    readonly intervals: readonly (IntervalJson & { readonly count: number })[];
  }[];
  /** Jobs whose check failed (tried again at the next tick), with the error. */
  readonly failed: readonly { readonly jobId: string; readonly error: string }[];
}

/** The answer to `backfills`. */
export interface BackfillsResponse {
  readonly action: 'backfills';
  readonly backfills: readonly BackfillSummaryJson[];
}

/** The answer to `backfill-pause`, `backfill-resume` and `backfill-cancel`. */
export interface BackfillChangeResponse {
  readonly action: BackfillChangeEvent['action'];
  readonly backfillId: string;
  readonly jobId: string;
  /** The backfill's status before and after. */
  readonly from: string;
  readonly to: string;
  /** Runs cancelled (cancel) or put back to pending (resume of a cancelled backfill). */
  readonly runs: number;
  /**
   * Resume of a cancelled backfill: its backfill state machine execution has ended, so the caller
   * starts a new one with this input (the stored request, resumed from its cursor).
   */
  readonly restart?: {
    readonly jobId: string;
    readonly from: string;
    readonly to: string;
    readonly reprocess: Reprocess;
    readonly dryRun: false;
    readonly reverse: boolean;
    readonly config: unknown;
    /** The backfill drives a `--downstream` chain (its own, or its upstream's): the input resumes it. */
    readonly downstream?: true;
  };
}

/** The answer to `cancel`: what was cancelled and which runs had finished already. */
export interface CancelResponse extends CancelOutcome {
  readonly action: 'cancel';
  /** ECS tasks of cancelled running runs that were asked to stop (their Fargate stages). @default none */
  readonly stoppedTasks?: readonly string[];
}

/** The answer to `mark`. */
export interface MarkResponse extends MarkOutcome {
  readonly action: 'mark';
}

/** What the dispatcher answers, by event. */
export type ControlResponse =
  | CancelResponse
  | MarkResponse
  | DispatchResponse
  | WatchdogResponse
  | StatusResponse
  | PauseResponse
  | BackfillPlanResponse
  | BackfillNextResponse
  | RunsResponse
  | IntervalsResponse
  | HistoryResponse
  | RunIntervalResponse
  | BackfillsResponse
  | BackfillChangeResponse;

const ACTIONS = [
  'dispatch',
  'continue',
  'status',
  'pause',
  'resume',
  'backfill-plan',
  'backfill-next',
  'runs',
  'intervals',
  'history',
  'run',
  'watchdog',
  'backfills',
  'backfill-pause',
  'backfill-resume',
  'backfill-cancel',
  'cancel',
  'mark',
];
/** Keys each action accepts; anything else is refused, so a typo (`dryrun`) is never silently ignored. */
const KEYS: Readonly<Record<string, readonly string[]>> = {
  dispatch: ['action', 'jobId'],
  continue: ['action', 'jobId', 'executionName'],
  status: ['action', 'jobId'],
  pause: ['action', 'jobId', 'actor', 'reason'],
  resume: ['action', 'jobId', 'actor', 'reason'],
  'backfill-plan': ['action', 'request'],
  'backfill-next': ['action', 'jobId', 'backfillId', 'reverse'],
  ...RUN_EVENT_KEYS,
  watchdog: ['action'],
  backfills: ['action', 'jobId'],
  'backfill-pause': ['action', 'backfillId', 'actor', 'reason'],
  'backfill-resume': ['action', 'backfillId', 'actor', 'reason'],
  'backfill-cancel': ['action', 'backfillId', 'actor', 'reason'],
  cancel: ['action', 'jobId', 'from', 'to', 'actor', 'reason'],
  mark: ['action', 'jobId', 'from', 'to', 'as', 'dryRun', 'actor', 'reason'],
};
const REQUEST_KEYS = [
  'jobId',
  'from',
  'to',
  'reprocess',
  'dryRun',
  'reverse',
  'config',
  'concurrency',
  'downstream',
];
/** A Step Functions execution name: 1 to 80 characters, none of them whitespace or `:`. */
const EXECUTION_NAME_PATTERN = /^[^\s:]{1,80}$/;
/** Backfill ids are `bf-` and 20 hex digits (see `backfillId`); a looser bound keeps the parser simple. */
const BACKFILL_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Parses a dispatcher event. `{ jobId }` alone is a dispatch (the EventBridge Scheduler target input).
 * A backfill request's `reprocess` defaults to `'missing'`, `dryRun` and `reverse` to false, `config`
 * to null.
 * @throws InputError listing every problem, for any value that is not a valid event.
 */
export function parseControlEvent(event: unknown): ControlEvent {
  if (!isRecord(event)) {
    throw new InputError(`Dispatcher event must be a JSON object, got ${describe(event)}`);
  }
  const problems: string[] = [];
  const action = own(event, 'action') ?? 'dispatch';
  if (typeof action !== 'string' || !ACTIONS.includes(action)) {
    throw new InputError(`Dispatcher event: action ${describe(action)} is not one of ${ACTIONS.join(', ')}`);
  }
  unknownKeys(event, KEYS[action]!, 'event', problems);

  const jobId = (key = 'jobId', required = true): string | undefined => {
    const value = own(event, key);
    if (value === undefined && !required) return undefined;
    return checkJobId(value, key, problems);
  };

  let parsed: ControlEvent | undefined;
  switch (action) {
    case 'dispatch': {
      const id = jobId();
      if (id !== undefined) parsed = { action, jobId: id };
      break;
    }
    case 'pause':
    case 'resume': {
      const id = jobId();
      const actor = own(event, 'actor');
      if (actor !== undefined && !isActor(actor)) {
        problems.push(`actor must be who asks, 1 to 200 characters, got ${describe(actor)}`);
      }
      const reason = own(event, 'reason');
      if (reason != null && typeof reason !== 'string') {
        problems.push(`reason must be a string, got ${describe(reason)}`);
      }
      if (id === undefined) break;
      parsed = {
        action,
        jobId: id,
        ...(typeof actor === 'string' ? { actor } : {}),
        ...(reason === undefined ? {} : { reason: typeof reason === 'string' ? reason : null }),
      };
      break;
    }
    case 'continue': {
      const id = jobId();
      const name = own(event, 'executionName');
      if (name !== undefined && (typeof name !== 'string' || !EXECUTION_NAME_PATTERN.test(name))) {
        problems.push(
          `executionName must be the name of the execution that asks (1 to 80 characters, no spaces or ":"), got ${describe(name)}`,
        );
      }
      if (id !== undefined && (name === undefined || typeof name === 'string')) {
        parsed = name === undefined ? { action, jobId: id } : { action, jobId: id, executionName: name };
      }
      break;
    }
    case 'watchdog':
      parsed = { action };
      break;
    case 'status':
    case 'backfills': {
      const id = jobId('jobId', false);
      parsed = id === undefined ? { action } : { action, jobId: id };
      break;
    }
    case 'backfill-pause':
    case 'backfill-resume':
    case 'backfill-cancel': {
      const backfillId = own(event, 'backfillId');
      if (typeof backfillId !== 'string' || !BACKFILL_ID_PATTERN.test(backfillId)) {
        problems.push(
          `backfillId must be a backfill id (piko backfills lists them), got ${describe(backfillId)}`,
        );
      }
      const actor = own(event, 'actor');
      if (!isActor(actor)) {
        problems.push(`actor must be who asks (1 to 200 characters), got ${describe(actor)}`);
      }
      const reason = own(event, 'reason') ?? null;
      if (reason !== null && typeof reason !== 'string') {
        problems.push(`reason must be a string, got ${describe(reason)}`);
      }
      if (typeof backfillId === 'string' && typeof actor === 'string') {
        parsed = { action, backfillId, actor, reason: reason as string | null };
      }
      break;
    }
    case 'backfill-plan': {
      const request = parseBackfillRequest(own(event, 'request'), problems);
      if (request) parsed = { action, request };
      break;
    }
    case 'backfill-next': {
      const id = jobId();
      const backfillId = own(event, 'backfillId');
      if (typeof backfillId !== 'string' || !BACKFILL_ID_PATTERN.test(backfillId)) {
        problems.push(`backfillId must be the id backfill-plan returned, got ${describe(backfillId)}`);
      }
      const reverse = optionalBoolean(own(event, 'reverse'), 'reverse', problems);
      if (id !== undefined && typeof backfillId === 'string') {
        parsed = { action, jobId: id, backfillId, reverse };
      }
      break;
    }
    case 'runs':
    case 'intervals':
    case 'history':
    case 'run':
      parsed = parseRunEvent(action, jobId(), event, problems);
      break;
    case 'cancel':
    case 'mark': {
      const id = jobId();
      const from = instant(own(event, 'from'), 'from', problems);
      const to = instant(own(event, 'to'), 'to', problems);
      const actor = own(event, 'actor');
      if (!isActor(actor)) {
        problems.push(`actor must be who asks, 1 to 200 characters, got ${describe(actor)}`);
      }
      const reason = own(event, 'reason');
      if (
        action === 'mark'
          ? typeof reason !== 'string' || !reason.trim()
          : reason != null && typeof reason !== 'string'
      ) {
        problems.push(
          `reason must be a string${action === 'mark' ? ' saying why' : ''}, got ${describe(reason)}`,
        );
      }
      if (id === undefined || from === undefined || to === undefined || typeof actor !== 'string') break;
      if (action === 'cancel') {
        parsed = { action, jobId: id, from, to, actor, reason: typeof reason === 'string' ? reason : null };
        break;
      }
      const as = own(event, 'as');
      if (as !== 'succeeded' && as !== 'skipped')
        problems.push(`as must be "succeeded" or "skipped", got ${describe(as)}`);
      const dryRun = optionalBoolean(own(event, 'dryRun'), 'dryRun', problems);
      if ((as === 'succeeded' || as === 'skipped') && typeof reason === 'string') {
        parsed = { action, jobId: id, from, to, as, dryRun, actor, reason };
      }
      break;
    }
  }
  if (problems.length > 0 || !parsed) {
    throw new InputError(`Invalid dispatcher event (action "${action}"):\n  - ${problems.join('\n  - ')}`);
  }
  return parsed;
}

/** A backfill request as the state machine's input or `piko backfill` sends it; undefined after a problem. */
function parseBackfillRequest(value: unknown, problems: string[]): BackfillRequest | undefined {
  if (!isRecord(value)) {
    problems.push(
      `request must be an object { jobId, from, to, reprocess, dryRun, reverse, config }, got ${describe(value)}`,
    );
    return undefined;
  }
  const before = problems.length;
  unknownKeys(value, REQUEST_KEYS, 'request', problems);
  const jobId = checkJobId(own(value, 'jobId'), 'request.jobId', problems);
  const instant = (key: 'from' | 'to'): Date | undefined => {
    const text = own(value, key);
    const date = typeof text === 'string' ? parseIsoInstant(text) : undefined;
    if (!date) {
      problems.push(
        `request.${key} must be an ISO 8601 instant with an offset, such as "2026-01-01T00:00:00Z", got ${describe(text)}`,
      );
    }
    return date;
  };
  const from = instant('from');
  const to = instant('to');
  const reprocess = own(value, 'reprocess') ?? 'missing';
  if (typeof reprocess !== 'string' || !REPROCESS.includes(reprocess as Reprocess)) {
    problems.push(`request.reprocess must be one of ${REPROCESS.join(', ')}, got ${describe(reprocess)}`);
  }
  const dryRun = optionalBoolean(own(value, 'dryRun'), 'request.dryRun', problems);
  const reverse = optionalBoolean(own(value, 'reverse'), 'request.reverse', problems);
  const downstream = optionalBoolean(own(value, 'downstream'), 'request.downstream', problems);
  const config = own(value, 'config') ?? null;
  const concurrency = own(value, 'concurrency') ?? undefined;
  if (
    concurrency !== undefined &&
    (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1)
  ) {
    problems.push(`request.concurrency must be a positive integer, got ${describe(concurrency)}`);
  }
  if (problems.length > before || jobId === undefined || !from || !to) return undefined;
  return {
    jobId,
    from,
    to,
    reprocess: reprocess as Reprocess,
    dryRun,
    reverse,
    config,
    ...(concurrency === undefined ? {} : { concurrency: concurrency as number }),
    ...(downstream ? { downstream } : {}),
  };
}

function checkJobId(value: unknown, key: string, problems: string[]): string | undefined {
  if (typeof value === 'string' && JOB_ID_PATTERN.test(value)) return value;
  problems.push(
    value === undefined
      ? `${key} is required`
      : `${key} must be a job id (a-z first, then a-z, 0-9, _ or -, at most 40 characters), got ${describe(value)}`,
  );
  return undefined;
}

function instant(value: unknown, key: string, problems: string[]): string | undefined {
  const parsed = typeof value === 'string' ? parseIsoInstant(value) : undefined;
  if (parsed) return parsed.toISOString();
  problems.push(`${key} must be an ISO 8601 instant with an offset, got ${describe(value)}`);
  return undefined;
}

function optionalBoolean(value: unknown, key: string, problems: string[]): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  problems.push(`${key} must be true or false, got ${describe(value)}`);
  return false;
}

function unknownKeys(
  record: Record<string, unknown>,
  allowed: readonly string[],
  where: string,
  problems: string[],
) {
  const unknown = Object.keys(record).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    problems.push(
      `${where} has unknown key(s) ${unknown.map((key) => JSON.stringify(key)).join(', ')}; allowed: ${allowed.join(', ')}`,
    );
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own property only: `__proto__`, `constructor` and other inherited names never count. */
function own(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A short, safe description of a value for a message. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
