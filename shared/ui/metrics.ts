/**
 * `/metrics` in the Prometheus text format (prom-client), for a self-hosted runtime. What the state
 * table holds (runs per status, skipped intervals, lateness, paused) is read at each scrape, so
 * `piko ui` beside another process reports the same; run durations are observed from the runs that
 * finished since the last scrape; intervals planned are counted from this process's runtime; pool
 * waits from the pools this process lends.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { JobRegistry } from '../registry.ts';
import type { WaitStats } from '../resources/wait-stats.ts';
import { RUN_STATUSES, type StateReader } from '../store/types.ts';
import type { RuntimeProgress } from './live.ts';
import { readLateness } from './model.ts';

/** Buckets of the run duration histogram, in seconds: 10 ms to an hour. */
export const RUN_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Runs read per job and query when observing durations. */
const FINISHED_PAGE = 1_000;
/**
 * How far back each scrape looks again for finished runs: a run whose finish time was set just
 * before the last scrape but committed after it is still seen (once: seen runs are remembered).
 */
export const FINISH_LOOKBACK_MS = 10_000;

/** A resource that reports its pool's waits (`sqlPool`, `mysqlPool`). */
interface PoolWaitReporter {
  poolWaitStats(): WaitStats;
}

function reportsPoolWaits(resource: unknown): resource is PoolWaitReporter {
  return (
    typeof resource === 'object' &&
    resource !== null &&
    typeof (resource as Partial<PoolWaitReporter>).poolWaitStats === 'function'
  );
}

/** The UI's metrics: one registry per UI, so several UIs in one process keep theirs apart. */
export class UiMetrics {
  readonly registry = new Registry();
  readonly #store: StateReader;
  readonly #jobs: JobRegistry;
  readonly #planned: Counter<'job'>;
  readonly #durations: Histogram<'job' | 'status'>;
  /** Per job: the latest finish time observed. */
  readonly #cursors = new Map<string, number>();
  /** Runs observed within the look-back window, by `runId:finishedAt`. */
  readonly #seen = new Map<string, number>();
  readonly #startedAt: number;

  /**
   * @param since runs that finished after this are observed. @default the start of this process
   *   (`piko start` observes every run of its runtime, `piko ui` those others finish while it runs)
   */
  constructor(
    store: StateReader,
    jobs: JobRegistry,
    now: () => Date = () => new Date(),
    since: Date = new Date(Date.now() - performance.now()),
  ) {
    this.#store = store;
    this.#jobs = jobs;
    this.#startedAt = since.getTime();
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#planned = new Counter({
      name: 'piko_intervals_planned_total',
      help: 'Intervals given a pending run by this process’s planner.',
      labelNames: ['job'],
      registers,
    });
    for (const job of jobs.ids()) this.#planned.inc({ job }, 0);
    this.#durations = new Histogram({
      name: 'piko_run_duration_seconds',
      help: 'How long runs took from the start of their last attempt to their end, observed as they finish.',
      labelNames: ['job', 'status'],
      buckets: RUN_DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'piko_runs',
      help: 'Runs in the state table, by job and status.',
      labelNames: ['job', 'status'],
      registers,
      collect: async function (this: Gauge<'job' | 'status'>) {
        this.reset();
        for (const job of jobs.ids()) {
          const counts = await store.countRuns(job);
          for (const status of RUN_STATUSES) this.set({ job, status }, counts[status]);
        }
      },
    });
    const jobRows = () => store.listJobs();
    new Counter({
      name: 'piko_intervals_skipped_total',
      help: 'Intervals passed over by the catch-up rules, from the state table.',
      labelNames: ['job'],
      registers,
      collect: async function (this: Counter<'job'>) {
        const rows = new Map((await jobRows()).map((row) => [row.jobId, row]));
        this.reset();
        for (const job of jobs.ids()) this.inc({ job }, rows.get(job)?.skippedTotal ?? 0);
      },
    });
    new Gauge({
      name: 'piko_job_paused',
      help: '1 while the job is paused, else 0.',
      labelNames: ['job'],
      registers,
      collect: async function (this: Gauge<'job'>) {
        const rows = new Map((await jobRows()).map((row) => [row.jobId, row]));
        this.reset();
        for (const job of jobs.ids()) this.set({ job }, rows.get(job)?.paused ? 1 : 0);
      },
    });
    new Gauge({
      name: 'piko_job_lateness_seconds',
      help: 'How long ago the oldest due scheduled interval that has not finished (or not been planned) ended; 0 when none.',
      labelNames: ['job'],
      registers,
      collect: async function (this: Gauge<'job'>) {
        const rows = new Map((await jobRows()).map((row) => [row.jobId, row]));
        const at = now();
        this.reset();
        for (const job of jobs.list()) {
          const lateness = await readLateness(store, job, rows.get(job.id), at);
          this.set({ job: job.id }, (lateness?.ms ?? 0) / 1_000);
        }
      },
    });
    new Gauge({
      name: 'piko_pool_wait_seconds',
      help: 'How long runs waited for a connection of a job’s pool in this process (p50, p95, p99, max).',
      labelNames: ['job', 'resource', 'quantile'],
      registers,
      collect: function (this: Gauge<'job' | 'resource' | 'quantile'>) {
        this.reset();
        for (const [job, resource, stats] of poolWaits(jobs)) {
          const labels = { job, resource };
          this.set({ ...labels, quantile: '0.5' }, stats.p50Ms / 1_000);
          this.set({ ...labels, quantile: '0.95' }, stats.p95Ms / 1_000);
          this.set({ ...labels, quantile: '0.99' }, stats.p99Ms / 1_000);
          this.set({ ...labels, quantile: '1' }, stats.maxMs / 1_000);
        }
      },
    });
    new Counter({
      name: 'piko_pool_waits_total',
      help: 'Connections of a job’s pool lent to runs in this process.',
      labelNames: ['job', 'resource'],
      registers,
      collect: function (this: Counter<'job' | 'resource'>) {
        this.reset();
        for (const [job, resource, stats] of poolWaits(jobs)) this.inc({ job, resource }, stats.count);
      },
    });
  }

  /** Counts what the runtime of this process reports (intervals planned). */
  onProgress(event: RuntimeProgress): void {
    if (event.event !== 'planned') return;
    const { jobId, planned } = event.fields;
    if (typeof jobId === 'string' && typeof planned === 'number' && this.#jobs.has(jobId)) {
      this.#planned.inc({ job: jobId }, planned);
    }
  }

  /** The metrics as Prometheus text, after observing the runs that finished since the last scrape. */
  async text(): Promise<string> {
    await this.#observeFinishedRuns();
    return this.registry.metrics();
  }

  /** The content type of {@link UiMetrics.text}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  async #observeFinishedRuns(): Promise<void> {
    for (const job of this.#jobs.ids()) {
      let cursor = this.#cursors.get(job) ?? this.#startedAt;
      let after = new Date(cursor - FINISH_LOOKBACK_MS);
      for (;;) {
        const runs = await this.#store.runsFinishedAfter(job, after, FINISHED_PAGE);
        for (const run of runs) {
          const finished = run.finishedAt!.getTime();
          if (finished <= this.#startedAt) continue;
          const key = `${run.runId}:${finished}`;
          if (this.#seen.has(key)) continue;
          this.#seen.set(key, finished);
          const started = run.startedAt?.getTime() ?? finished;
          this.#durations.observe({ job, status: run.status }, Math.max(0, finished - started) / 1_000);
          cursor = Math.max(cursor, finished);
        }
        if (runs.length < FINISHED_PAGE) break;
        // Runs that share the page's last finish time are on both pages; the seen set skips them.
        const next = new Date(runs[runs.length - 1]!.finishedAt!.getTime() - 1);
        if (next.getTime() <= after.getTime()) break;
        after = next;
      }
      this.#cursors.set(job, cursor);
    }
    const oldest = Math.min(...this.#cursors.values()) - FINISH_LOOKBACK_MS;
    for (const [key, finished] of this.#seen) if (finished < oldest) this.#seen.delete(key);
  }
}

/** Each pool of each job that reports its waits, with its figures. */
function* poolWaits(jobs: JobRegistry): Generator<[string, string, WaitStats]> {
  for (const job of jobs.list()) {
    for (const [name, resource] of Object.entries(job.resources)) {
      if (reportsPoolWaits(resource)) yield [job.id, name, resource.poolWaitStats()];
    }
  }
}
