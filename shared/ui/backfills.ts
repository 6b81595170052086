/**
 * What the Backfills page reads and submits: every backfill with its progress and who drives it
 * (the driver lease a runtime holds, `shared/local/backfill-drivers.ts`), the start form parsed into
 * a backfill request, and its dry run, through the planner functions `piko backfill --dry-run`
 * prints (`countBackfill`, `downstreamBackfills`).
 */
import { InputError } from '../errors.ts';
import { type JobDefinition, parseIsoInstant } from '../job.ts';
import {
  type BackfillCounts,
  type BackfillRequest,
  type BackfillSummary,
  backfillId,
  countBackfill,
  type DownstreamBackfill,
  downstreamBackfills,
  listBackfillSummaries,
  type PlannedInterval,
  REPROCESS,
  type Reprocess,
  validateBackfill,
} from '../planner/index.ts';
import type { JobRegistry } from '../registry.ts';
import { backfillDriverRef, type ExecutionLease, leaseStoreOf } from '../store/leases.ts';
import type { StateStore } from '../store/types.ts';

/** Intervals of a dry run the preview lists (the rest are counted). */
export const PREVIEW_SAMPLE = 20;

/** Who runs a backfill now. */
export type BackfillDriver =
  /** A live runtime holds its driver lease: `pid 4242 on build-01`. */
  | { readonly kind: 'runtime'; readonly holder: string }
  /** Unfinished, but no runtime drives it: it waits for a `piko start` on this store. */
  | { readonly kind: 'waiting' }
  /** Unfinished, and its job is paused: nothing of it runs until `piko resume <job>`. */
  | { readonly kind: 'job-paused' }
  /** Paused, cancelled, failed or done: nobody needs to. */
  | { readonly kind: 'none' };

/** One row of the Backfills page. */
export interface BackfillRow {
  readonly summary: BackfillSummary;
  /** Runs that have ended (succeeded, failed, cancelled, skipped) of all its runs so far. */
  readonly done: number;
  readonly total: number;
  readonly failed: number;
  readonly driver: BackfillDriver;
}

/** Every backfill (newest first) with its progress and who drives it. */
export async function readBackfills(store: StateStore, jobs: JobRegistry, now: Date): Promise<BackfillRow[]> {
  const leases = leaseStoreOf(store);
  const summaries = await listBackfillSummaries(store, (id) =>
    jobs.has(id) ? jobs.get(id).concurrency : undefined,
  );
  return Promise.all(
    summaries.map(async (summary) => {
      const { runs, backfill } = summary;
      const total = Object.values(runs).reduce((sum, count) => sum + count, 0);
      const done = runs.succeeded + runs.failed + runs.cancelled + runs.skipped;
      let driver: BackfillDriver = { kind: 'none' };
      if (backfill.status === 'planning' || backfill.status === 'planned') {
        const lease = await leases.get(backfillDriverRef(backfill.jobId, backfill.backfillId));
        // A paused job starts nothing of it, whoever drives it (a runtime refuses to plan it, too).
        if ((await store.getJob(backfill.jobId))?.paused) driver = { kind: 'job-paused' };
        else
          driver = isLive(lease, now) ? { kind: 'runtime', holder: holderText(lease) } : { kind: 'waiting' };
      }
      return { summary, done, total, failed: runs.failed, driver };
    }),
  );
}

function isLive(lease: ExecutionLease | undefined, now: Date): lease is ExecutionLease {
  return lease !== undefined && lease.endedAt === null && lease.expiresAt.getTime() > now.getTime();
}

function holderText(lease: ExecutionLease): string {
  return `pid ${lease.holder.pid} on ${lease.holder.host.split(' / ')[0]}`;
}

/** The start form's fields, as submitted (and carried by the preview to its confirm button). */
export interface BackfillForm {
  readonly job: string;
  readonly from: string;
  readonly to: string;
  readonly reprocess: string;
  readonly concurrency: string;
  readonly config: string;
  readonly reason: string;
  readonly reverse: string;
}

/** The form's fields out of a submitted form (missing ones empty). */
export function backfillFormOf(fields: Readonly<Record<string, string>>): BackfillForm {
  const field = (name: string) => (fields[name] ?? '').trim();
  return {
    job: field('job'),
    from: field('from'),
    to: field('to'),
    reprocess: field('reprocess') || 'missing',
    concurrency: field('concurrency'),
    config: field('config'),
    reason: field('reason'),
    reverse: field('reverse'),
  };
}

/**
 * The request a form asks for, checked as `piko backfill` checks its flags and then as the planner
 * checks a request (`validateBackfill`: range, limit, concurrency, the config against the job's schema).
 * @throws InputError / BackfillRefusedError naming the field; UnknownJobError.
 */
export function backfillRequestOfForm(
  form: BackfillForm,
  jobs: JobRegistry,
  now: Date,
  maxBackfillIntervals?: number,
): { readonly job: JobDefinition; readonly request: BackfillRequest } {
  const job = jobs.get(form.job);
  const from = parseIsoInstant(form.from);
  const to = parseIsoInstant(form.to);
  const problems: string[] = [];
  if (!from) problems.push(`From must be an ISO 8601 instant with an offset, such as 2026-03-01T00:00:00Z`);
  if (!to) problems.push(`To must be an ISO 8601 instant with an offset, such as 2026-03-02T00:00:00Z`);
  if (!REPROCESS.includes(form.reprocess as Reprocess)) {
    problems.push(`Reprocess must be one of ${REPROCESS.join(', ')}, got ${JSON.stringify(form.reprocess)}`);
  }
  let concurrency: number | undefined;
  if (form.concurrency !== '') {
    concurrency = Number(form.concurrency);
    if (!/^[0-9]+$/.test(form.concurrency) || concurrency < 1) {
      problems.push(`Concurrency must be a positive integer, got ${JSON.stringify(form.concurrency)}`);
    }
  }
  let config: unknown = null;
  if (form.config !== '') {
    try {
      config = JSON.parse(form.config);
    } catch {
      problems.push('The config override must be JSON, for example {"region":"eu"}');
    }
  }
  if (problems.length > 0 || !from || !to) throw new InputError(problems.join('; '));
  const request: BackfillRequest = {
    jobId: job.id,
    from,
    to,
    reprocess: form.reprocess as Reprocess,
    reverse: form.reverse === 'on',
    config,
    ...(concurrency === undefined ? {} : { concurrency }),
  };
  validateBackfill(job, request, now, { maxBackfillIntervals });
  return { job, request };
}

/** A dry run of a request: what `piko backfill --dry-run` prints, for the preview. */
export interface BackfillPreviewView {
  readonly job: JobDefinition;
  readonly request: BackfillRequest;
  readonly backfillId: string;
  readonly counts: BackfillCounts;
  /** The first intervals of the plan, in the order they would run. */
  readonly sample: readonly PlannedInterval[];
  readonly notShown: number;
  /** Downstream jobs whose intervals become stale (DESIGN.md §9), in dependency order. */
  readonly downstream: readonly DownstreamBackfill[];
}

/** The dry run of `request`: counts, its first intervals, and the downstream intervals it makes stale. */
export async function previewBackfillRequest(
  store: StateStore,
  jobs: JobRegistry,
  job: JobDefinition,
  request: BackfillRequest,
  now: Date,
): Promise<BackfillPreviewView> {
  const dryRun = { ...request, dryRun: true };
  const { counts, sample, notShown } = await countBackfill(store, job, dryRun, {
    sampleSize: PREVIEW_SAMPLE,
  });
  const downstream = await downstreamBackfills(store, jobs, job, dryRun, now);
  return { job, request, backfillId: backfillId(request), counts, sample, notShown, downstream };
}
