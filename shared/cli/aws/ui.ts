/**
 * `piko ui --aws`: the web UI over a deployed stack. Its pages read the state table through the
 * dispatcher's control events, as the `--aws` CLI does (`status` for the jobs, `runs` for runs,
 * `intervals` for the grid, `history` for operator actions and alerts), and its actions go through
 * them too (`run`: Run now and Rerun; `cancel`; `mark`, an interval or a range from the grid). An
 * interval's page gives the run's CloudWatch Logs Insights query and its execution's console link.
 * Backfills are started and steered with `piko backfill … --aws` (the backfill state machine).
 */

import type { StatusResponse } from '../../control/events.ts';
import type {
  HistoryResponse,
  IntervalsResponse,
  RunIntervalResponse,
  RunsEvent,
  RunsResponse,
} from '../../control/run-events.ts';
import {
  actionFromJson,
  alertFromJson,
  backfillFromJson,
  MAX_HISTORY_EVENT_LIMIT,
  MAX_RUNS_EVENT_LIMIT,
  runFromJson,
} from '../../control/run-events.ts';
import type { JobStatus } from '../../control/status.ts';
import { DispatcherFailedError, InputError } from '../../errors.ts';
import type { Interval } from '../../interval.ts';
import type { JobDefinition } from '../../job.ts';
import type { ProgressEvent } from '../../local/progress.ts';
import { type OperatorRequest, previewMark } from '../../planner/index.ts';
import type { JobRegistry } from '../../registry.ts';
import { runAwsLinks } from '../../stack/run-links.ts';
import type {
  BackfillRecord,
  JobState,
  RunBucket,
  RunCounts,
  RunQuery,
  RunRecord,
  RunSpan,
  StateReader,
} from '../../store/types.ts';
import type { UiRunner } from '../../ui/actions.ts';
import type { UiOperator } from '../../ui/operator.ts';
import type { RunLogSource } from '../../ui/run-logs.ts';
import type { UiAddress } from '../../ui/security.ts';
import { startUiServer, type UiServer } from '../../ui/server.ts';
import type { CliContext } from '../context.ts';
import { invokeControlFunction } from './control-client.ts';
import { sendCancel, sendMark } from './operator.ts';
import type { AwsFlags } from './options.ts';
import { AwsSession, resolveAwsTarget } from './session.ts';

/** How long one `status` answer serves the reads of a page (its overview reads every job's). */
const STATUS_TTL_MS = 1_000;

/**
 * The state table's reads, answered by the deployed dispatcher: jobs, counts, failures and the code
 * version from one `status` (kept a second), runs from `runs`, grid spans and buckets from
 * `intervals`. `runsFinishedAfter` answers nothing: the UI's duration histogram (`/metrics`) is of
 * a self-hosted runtime; on AWS the stack's CloudWatch metrics have it.
 */
export class ControlEventReader implements StateReader {
  readonly #session: AwsSession;
  readonly #now: () => number;
  #status: { readonly at: number; readonly jobs: Promise<Map<string, JobStatus>> } | undefined;
  /** Backfills seen in `runs` answers (an interval's page reads its run, then the run's backfill). */
  readonly #backfills = new Map<string, BackfillRecord>();

  constructor(session: AwsSession, now: () => number = Date.now) {
    this.#session = session;
    this.#now = now;
  }

  async getJob(jobId: string): Promise<JobState | undefined> {
    const status = (await this.#statuses()).get(jobId);
    return status ? jobState(status) : undefined;
  }

  async listJobs(): Promise<JobState[]> {
    return [...(await this.#statuses()).values()].flatMap((status) => {
      const state = jobState(status);
      return state ? [state] : [];
    });
  }

  async countRuns(jobId: string): Promise<RunCounts> {
    return (await this.#job(jobId)).counts;
  }

  async countOutdated(jobId: string): Promise<number> {
    return (await this.#job(jobId)).outdated ?? 0;
  }

  async recentFailures(jobId: string, limit: number): Promise<RunRecord[]> {
    // What the status model reads of them: id, interval, attempts, error, end.
    return ((await this.#job(jobId)).recentFailures ?? []).slice(0, limit).map((failure) => {
      const finishedAt = failure.finishedAt ? new Date(failure.finishedAt) : null;
      return {
        runId: failure.runId,
        jobId,
        interval: { start: new Date(failure.interval.start), end: new Date(failure.interval.end) },
        status: 'failed',
        trigger: 'schedule',
        stage: null,
        attempts: failure.attempts,
        generation: 0,
        requeues: 0,
        notBefore: null,
        executionName: null,
        backfillId: null,
        config: null,
        error: failure.error,
        output: null,
        version: null,
        taskArn: null,
        createdAt: finishedAt ?? new Date(0),
        updatedAt: finishedAt ?? new Date(0),
        startedAt: null,
        finishedAt,
      };
    });
  }

  findRuns(jobId: string, query: RunQuery): Promise<RunRecord[]> {
    return this.#runs({
      action: 'runs',
      jobId,
      from: query.from?.toISOString(),
      to: query.to?.toISOString(),
      statuses: query.statuses,
      backfillId: query.backfillId,
      limit: Math.min(query.limit, MAX_RUNS_EVENT_LIMIT),
      newestFirst: query.newestFirst,
    });
  }

  listRuns(jobId: string, range?: { from: Date; to: Date }): Promise<RunRecord[]> {
    return this.#runs({
      action: 'runs',
      jobId,
      from: range?.from.toISOString(),
      to: range?.to.toISOString(),
      limit: MAX_RUNS_EVENT_LIMIT,
    });
  }

  async runsFinishedAfter(): Promise<RunRecord[]> {
    return [];
  }

  async intervalSpans(jobId: string, range: { from: Date; to: Date }, limit: number): Promise<RunSpan[]> {
    const response = await invokeControlFunction<IntervalsResponse>(this.#session, {
      action: 'intervals',
      jobId,
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      limit,
    });
    return expectList(response.spans, 'intervals', 'spans').map((span) => ({
      ...span,
      start: new Date(span.start),
      end: new Date(span.end),
    }));
  }

  async intervalBuckets(
    jobId: string,
    range: { from: Date; to: Date },
    bucketMs: number,
  ): Promise<RunBucket[]> {
    const response = await invokeControlFunction<IntervalsResponse>(this.#session, {
      action: 'intervals',
      jobId,
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      bucketMs,
    });
    return [...expectList(response.buckets, 'intervals', 'buckets')];
  }

  async getBackfill(backfillId: string): Promise<BackfillRecord | undefined> {
    return this.#backfills.get(backfillId);
  }

  async #runs(event: RunsEvent): Promise<RunRecord[]> {
    const response = await invokeControlFunction<RunsResponse>(this.#session, event);
    for (const json of response.backfills ?? []) this.#backfills.set(json.backfillId, backfillFromJson(json));
    return expectList(response.runs, 'runs', 'runs').map(runFromJson);
  }

  async #job(jobId: string): Promise<JobStatus> {
    const status = (await this.#statuses()).get(jobId);
    if (!status) {
      throw new DispatcherFailedError(
        `The dispatcher's "status" has no job "${jobId}": deploy the stack with this project's jobs (npx cdk deploy)`,
        'UnexpectedAnswer',
      );
    }
    return status;
  }

  #statuses(): Promise<Map<string, JobStatus>> {
    const now = this.#now();
    if (!this.#status || now - this.#status.at > STATUS_TTL_MS) {
      const jobs = invokeControlFunction<StatusResponse>(this.#session, { action: 'status' }).then(
        (response) => new Map(expectList(response.jobs, 'status', 'jobs').map((job) => [job.jobId, job])),
      );
      // A failed read is not kept: the next page asks again.
      jobs.catch(() => {
        if (this.#status?.jobs === jobs) this.#status = undefined;
      });
      this.#status = { at: now, jobs };
    }
    return this.#status.jobs;
  }
}

/** The job's row as the UI reads it, from its status; undefined before the planner first saw it. */
function jobState(status: JobStatus): JobState | undefined {
  if (status.watermark === null) return undefined;
  const watermark = new Date(status.watermark);
  return {
    jobId: status.jobId,
    watermark,
    paused: status.paused,
    skippedTotal: status.skippedTotal,
    updatedAt: watermark,
  };
}

function expectList<T>(value: readonly T[] | undefined, action: string, key: string): readonly T[] {
  if (Array.isArray(value)) return value;
  throw new DispatcherFailedError(
    `The dispatcher answered "${action}" without ${key}: is the stack deployed by this version (npx cdk deploy)?`,
    'UnexpectedAnswer',
  );
}

/** The UI's actions on the stack: a manual run through the dispatcher's `run`. */
export class ControlEventRunner implements UiRunner {
  readonly #session: AwsSession;

  constructor(session: AwsSession) {
    this.#session = session;
  }

  async runInterval(
    job: JobDefinition,
    interval: Interval,
    config: unknown,
    request?: OperatorRequest,
  ): Promise<void> {
    await invokeControlFunction<RunIntervalResponse>(this.#session, {
      action: 'run',
      jobId: job.id,
      start: interval.start.toISOString(),
      config,
      ...request,
    });
  }

  async rerunInterval(job: JobDefinition, interval: Interval, request?: OperatorRequest): Promise<void> {
    // The dispatcher takes the run's own config: the UI has only seen it redacted.
    await invokeControlFunction<RunIntervalResponse>(this.#session, {
      action: 'run',
      jobId: job.id,
      start: interval.start.toISOString(),
      rerun: true,
      ...request,
    });
  }
}

/**
 * The UI's operator actions on the stack: `cancel` and `mark` sent to the dispatcher (recorded there
 * with the actor the UI names), the record read with `history`. A mark's dry run is computed here
 * from the runs `runs` answers, as the dispatcher would: at most {@link MAX_RUNS_EVENT_LIMIT} runs,
 * so a larger range is refused with the command that marks it.
 */
export function controlEventOperator(session: AwsSession, reader: StateReader): UiOperator {
  const history = (jobId: string, limit: number) =>
    invokeControlFunction<HistoryResponse>(session, {
      action: 'history',
      jobId,
      limit: Math.min(limit, MAX_HISTORY_EVENT_LIMIT),
    });
  return {
    cancel: (job, range, call) => sendCancel(session, job.id, range, call),
    async previewMark(job, request, now) {
      let full = false;
      const preview = await previewMark(
        {
          async listRuns(jobId, range) {
            const runs = await reader.listRuns(jobId, range);
            full = runs.length >= MAX_RUNS_EVENT_LIMIT;
            return runs;
          },
        },
        job,
        request,
        now,
      );
      if (full) {
        throw new InputError(
          `The range holds ${MAX_RUNS_EVENT_LIMIT} runs or more, more than one answer of the dispatcher carries: mark it from the CLI, ` +
            `piko mark ${job.id} --from ${request.from.toISOString()} --to ${request.to.toISOString()} --as ${request.as} --reason "…" --aws --dry-run`,
        );
      }
      return preview;
    },
    mark: (job, request, call) => sendMark(session, job.id, request, call),
    async actions(jobId, limit) {
      return expectList((await history(jobId, limit)).actions, 'history', 'actions').map(actionFromJson);
    },
    async alerts(jobId, limit) {
      return expectList((await history(jobId, limit)).alerts, 'history', 'alerts').map(alertFromJson);
    },
  };
}

/** An interval's logs on AWS: the Logs Insights query and the execution link, from the stack's outputs. */
export function awsRunLogs(session: AwsSession): RunLogSource {
  return {
    async read(job, run) {
      const outputs = await session.outputs();
      return {
        kind: 'aws',
        links: runAwsLinks({
          outputs,
          jobId: job.id,
          runId: run.runId,
          executionName: run.executionName,
          createdAt: run.createdAt,
          finishedAt: run.finishedAt,
        }),
      };
    },
  };
}

/**
 * Serves the UI over the stack `session` names: reads, actions and logs through its dispatcher.
 * @throws UiPortInUseError when the address is taken.
 */
export function startAwsUi(options: {
  readonly session: AwsSession;
  readonly jobs: JobRegistry;
  readonly address: UiAddress;
  /** @default () => new Date() */
  readonly now?: () => Date;
}): Promise<UiServer> {
  const now = options.now ?? (() => new Date());
  const reader = new ControlEventReader(options.session);
  return startUiServer({
    address: options.address,
    store: reader,
    jobs: options.jobs,
    runner: new ControlEventRunner(options.session),
    operator: controlEventOperator(options.session, reader),
    runLogs: awsRunLogs(options.session),
    now,
  });
}

/**
 * `piko ui --aws`: serves the UI over the deployed stack until SIGINT or SIGTERM. The stack's
 * outputs are read first, so a wrong stack or region is said before the UI listens.
 */
export async function serveAwsUi(options: {
  readonly context: CliContext;
  readonly flags: AwsFlags;
  readonly address: UiAddress;
  readonly print: (event: ProgressEvent) => void;
  /** The line that tells where the UI is. */
  readonly started: (server: UiServer) => ProgressEvent;
}): Promise<void> {
  const session = new AwsSession(resolveAwsTarget(options.flags, options.context.config.aws));
  await session.outputs();
  const server = await startAwsUi({ session, jobs: options.context.jobs, address: options.address });
  options.print(options.started(server));
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  options.print({ event: 'stopping', text: `${signal}: the UI stops`, fields: { signal } });
  await server.close();
  options.print({ event: 'stopped', text: 'UI stopped', fields: {} });
}
