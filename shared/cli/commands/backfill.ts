import type { Command } from 'commander';
import { formatDuration } from '../../duration.ts';
import { ExitCodeError, InputError, JobPausedError, type StoreError } from '../../errors.ts';
import type { JobDefinition } from '../../job.ts';
import { LocalRuntime } from '../../local/runtime.ts';
import {
  type BackfillAction,
  type BackfillCounts,
  type BackfillOutcome,
  type BackfillRequest,
  backfillId,
  countBackfill,
  type DownstreamBackfill,
  downstreamBackfills,
  planBackfill,
  REPROCESS,
  type Reprocess,
  validateBackfill,
} from '../../planner/index.ts';
import type { ProcessServices } from '../../runner/process.ts';
import { shortInstant } from '../../schedule/index.ts';
import type { StateStore } from '../../store/types.ts';
import {
  type AwsFlags,
  awsOption,
  refuseAwsOnlyFlags,
  regionOption,
  stackNameOption,
} from '../aws/options.ts';
import { cliContext, withProcess } from '../context.ts';
import { giveUpOnStore, ONCE_MAX_STORE_FAILURES } from '../give-up.ts';
import { type CliIo, EXIT } from '../io.ts';
import { parseInstantFlag, parseJsonFlag } from '../parse.ts';
import { progressPrinter } from '../progress.ts';
import { stoppableBySignals } from '../signals.ts';

const BAR_WIDTH = 30;

interface BackfillFlags extends AwsFlags {
  from?: string;
  to?: string;
  reprocess: string;
  dryRun?: boolean;
  reverse?: boolean;
  config?: string;
  json?: boolean;
  wait?: boolean;
  downstream?: boolean;
  concurrency?: string;
}

/** Parses and checks `piko backfill`'s flags into a request. @throws InputError naming the flag. */
export function backfillRequest(jobId: string, flags: BackfillFlags): BackfillRequest {
  if (!REPROCESS.includes(flags.reprocess as Reprocess)) {
    throw new InputError(
      `--reprocess must be one of ${REPROCESS.join(', ')}, got ${JSON.stringify(flags.reprocess)}`,
    );
  }
  return {
    jobId,
    from: parseInstantFlag('--from', flags.from),
    to: parseInstantFlag('--to', flags.to),
    reprocess: flags.reprocess as Reprocess,
    dryRun: flags.dryRun ?? false,
    reverse: flags.reverse ?? false,
    config: parseJsonFlag('--config', flags.config),
    ...(flags.concurrency === undefined ? {} : { concurrency: parseConcurrencyFlag(flags.concurrency) }),
  };
}

/** `--concurrency N`: a positive integer (validateBackfill checks it against the job's). */
function parseConcurrencyFlag(text: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new InputError(`--concurrency must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * `piko backfill <job> --from --to …`: plans a range and runs it locally, resumable; with `--aws`,
 * starts the deployed stack's backfill state machine instead (`shared/cli/aws/backfill.ts`), which
 * with `--downstream` backfills the downstream jobs too, each once its upstream backfills are done.
 */
export function backfillCommand(program: Command, io: CliIo): void {
  program
    .command('backfill <job>')
    .description(
      'run (or re-run) every interval of a job in [--from, --to); run again to continue after a stop',
    )
    .option('--from <iso>', 'range start (ISO 8601 with offset)')
    .option('--to <iso>', 'range end (ISO 8601 with offset), not in the future')
    .option(
      '--reprocess <which>',
      'missing | failed | outdated (also succeeded under another version of the job) | all',
      'missing',
    )
    .option('--dry-run', 'print the plan and write nothing')
    .option('--reverse', 'newest intervals first')
    .option('--config <json>', 'config override for the backfilled runs')
    .option('--json', 'JSON lines')
    .option('--wait', 'when the job is paused, plan now and run after piko resume (else refused)')
    .option(
      '--downstream',
      're-run too the intervals of downstream jobs (dependsOn) that overlap the re-run intervals, transitively, each after its upstream',
    )
    .option('--concurrency <n>', "runs of the backfill at once, at most the job's (default: the job's)")
    .addOption(awsOption('start the backfill state machine of the deployed stack'))
    .addOption(regionOption())
    .addOption(stackNameOption())
    .action(async (jobId: string, flags: BackfillFlags) => {
      const request = backfillRequest(jobId, flags);
      if (flags.aws) {
        const aws = await import('../aws/backfill.ts');
        return aws.backfillOnAws(request, flags, io, { downstream: flags.downstream ?? false });
      }
      refuseAwsOnlyFlags(flags);
      const context = await cliContext({ json: flags.json });
      const job = context.jobs.get(jobId);
      const now = new Date();
      const limits = { maxBackfillIntervals: context.config.piko.maxBackfillIntervals };
      validateBackfill(job, request, now, limits);

      // Aborted once a signal's grace period is over: the handlers' ctx.signal.
      const abortHandlers = new AbortController();
      await withProcess(
        context,
        async (opened) => {
          if (request.dryRun) {
            const met: BackfillAction[] = [];
            const { counts } = await countBackfill(opened.store, job, request, {
              each: (line) => {
                if (!met.includes(line.action)) met.push(line.action);
                const start = line.start.toISOString();
                const end = line.end.toISOString();
                io.out(
                  flags.json
                    ? JSON.stringify({ start, end, action: line.action })
                    : `${start} → ${end}  ${line.action}`,
                );
              },
            });
            // The summary names the actions in the order the listing met them; in JSON, every action
            // with its count (0 included), so a script reads one shape.
            io.out(
              flags.json
                ? JSON.stringify({ plan: counts })
                : `plan: ${met.map((action) => `${action} ${counts[action]}`).join(', ') || 'nothing'}`,
            );
            const downstream = await downstreamBackfills(opened.store, context.jobs, job, request, now);
            printDownstream(io, downstream, flags.downstream ?? false, flags.json ?? false);
            return;
          }

          const print = progressPrinter(io, flags.json ?? false);
          const planned = (target: JobDefinition, backfillId: string, counts: BackfillCounts) => {
            const skipped = counts['skip-succeeded'] + counts['skip-in-flight'] + counts['skip-failed'];
            print({
              event: 'backfill-planned',
              text: `${target.id}: backfill ${backfillId} planned: ${counts.create} created, ${counts.rerun} re-armed, ${skipped} skipped${inFlightNote(target, counts)}`,
              fields: { jobId: target.id, backfillId, ...counts },
            });
          };
          // Read before the backfill is planned (the dry run of its plan says what re-runs); then the
          // job's backfill is planned first, so the downstream runs, re-armed waiting, wait for it.
          const downstream = flags.downstream
            ? await downstreamBackfills(opened.store, context.jobs, job, request, now)
            : [];
          const requests: [JobDefinition, BackfillRequest][] = [
            [job, request],
            ...downstream.flatMap((stale) =>
              stale.requests.map((next): [JobDefinition, BackfillRequest] => [stale.job, next]),
            ),
          ];
          if (downstream.length > 0) {
            // As runBackfill does: a paused job is refused before anything is written.
            for (const [target] of requests) {
              if (!flags.wait && (await opened.store.getJob(target.id))?.paused)
                throw new JobPausedError(
                  target.id,
                  'a backfill (pass --wait to plan it now and run it after resume)',
                );
            }
            for (const [target, next] of requests) {
              const plan = await planBackfill(opened.store, target, next, now, limits);
              planned(target, plan.backfillId, plan.counts);
            }
          }
          let failedRuns = 0;
          for (const [target, next] of requests) {
            const outcome = await runOne(opened, target, next, {
              flags,
              limits,
              print,
              io,
              abortHandlers,
              // Planned above when downstream jobs follow; else runBackfill's own plan is reported.
              onPlanned: downstream.length > 0 ? undefined : planned,
            });
            failedRuns += outcome.failed;
            // A cancelled backfill stops here: its downstream re-runs wait for the resume.
            if (outcome.cancelled) break;
          }
          if (failedRuns > 0) throw new ExitCodeError(EXIT.runsFailed);
        },
        { shutdown: abortHandlers.signal },
      );
    });
}

/** Runs one planned (or to plan) backfill to its end in a runtime of its own, printing its progress. */
async function runOne(
  opened: ProcessServices,
  job: JobDefinition,
  request: BackfillRequest,
  options: {
    readonly flags: BackfillFlags;
    readonly limits: { readonly maxBackfillIntervals: number };
    readonly print: ReturnType<typeof progressPrinter>;
    readonly io: CliIo;
    /** Aborted when a signal's grace period is over. */
    readonly abortHandlers: AbortController;
    readonly onPlanned:
      | ((job: JobDefinition, backfillId: string, counts: BackfillCounts) => void)
      | undefined;
  },
): Promise<BackfillOutcome> {
  const { flags, print } = options;
  let bar: ProgressBar | undefined;
  // A command that ends by itself: a store that stays unavailable ends it too (its stages would
  // otherwise wait for ever for a lease the store cannot renew), as it does `piko start --once`.
  const runtime = new LocalRuntime({
    process: opened,
    // Text mode: the bar follows the runs as they end, not only the rounds of batches.
    onProgress: flags.json ? print : () => bar?.runEnded(),
    maxStoreFailures: ONCE_MAX_STORE_FAILURES,
  });
  if (!flags.json) bar = new ProgressBar(options.io, () => runtime.totals);
  const graceSeconds = opened.config.piko.shutdownGraceSeconds;
  const gaveUp = runtime.fatal.then(async (error) => {
    // What is running gets the grace period, then the command ends with the error.
    await runtime.stop(graceSeconds * 1000, options.abortHandlers);
    return error;
  });
  // A signal stops it as piko start stops (the drive prints backfill-stopped); the backfill's lease
  // is given up, and this command again (or a piko start) goes on with it.
  return stoppableBySignals({ runtime, graceSeconds, abortHandlers: options.abortHandlers, print }, () =>
    driveOne(runtime, gaveUp, job, request, { ...options, bar, store: opened.store }),
  );
}

/** Drives the backfill in `runtime` to its end (or until it is stopped), printing its progress. */
async function driveOne(
  runtime: LocalRuntime,
  gaveUp: Promise<StoreError>,
  job: JobDefinition,
  request: BackfillRequest,
  options: Parameters<typeof runOne>[3] & {
    readonly bar: ProgressBar | undefined;
    readonly store: StateStore;
  },
): Promise<BackfillOutcome> {
  const { flags, print, io } = options;
  // Driven under its lease: a piko start on the same store leaves it to this process, and takes it
  // over if this process dies; one driven elsewhere is waited for.
  const driven = runtime.backfills.driveOrWait(job, request, {
    limits: options.limits,
    waitWhilePaused: flags.wait,
    onHeld: (holder) =>
      print({
        event: 'backfill-held',
        text: `${job.id}: backfill ${backfillId(request)} is run by ${holder}; waiting for it (this command goes on with it if that process stops)`,
        fields: { jobId: job.id, backfillId: backfillId(request), holder },
      }),
    onProgress: (progress) => {
      if (progress.kind === 'planned') {
        options.onPlanned?.(job, progress.plan.backfillId, progress.plan.counts);
      } else if (progress.kind === 'paused') {
        print({
          event: 'backfill-paused',
          text: `${job.id}: paused; the backfill waits (piko resume ${job.id} to go on, Ctrl-C to stop and run this command again later)`,
          fields: { jobId: job.id, backfillId: progress.backfillId },
        });
      } else if (progress.kind === 'backfill-paused' || progress.kind === 'backfill-resumed') {
        const paused = progress.kind === 'backfill-paused';
        print({
          event: progress.kind,
          text: paused
            ? `${job.id}: backfill ${progress.backfillId} paused; it waits (piko backfill resume ${progress.backfillId} to go on)`
            : `${job.id}: backfill ${progress.backfillId} resumed`,
          fields: { jobId: job.id, backfillId: progress.backfillId },
        });
      } else {
        options.bar?.round(progress.total);
      }
    },
  });
  // Once the runtime gave up, the drive may still settle (with the store's error) as it stops:
  // nobody waits for it then.
  driven.catch(() => undefined);
  const outcome = await Promise.race([driven, gaveUp.then(() => undefined)]);
  // Given up (the drive, stopped with the runtime, may have ended first): say so, exit 1.
  const fatalError = runtime.fatalError;
  if (fatalError) {
    await gaveUp;
    giveUpOnStore(
      io,
      fatalError,
      'when this piko backfill command runs again (or a piko start takes the backfill over)',
    );
  }
  if (!outcome || outcome.stopped) {
    print({
      event: 'backfill-stopped',
      text: `${job.id}: backfill ${backfillId(request)} stopped before its end: ${outcome?.succeeded ?? 0} succeeded, ${outcome?.failed ?? 0} failed (this command again, or a piko start, goes on with it)`,
      fields: {
        jobId: job.id,
        backfillId: backfillId(request),
        succeeded: outcome?.succeeded ?? 0,
        failed: outcome?.failed ?? 0,
      },
    });
    throw new ExitCodeError(EXIT.runsFailed);
  }
  const { succeeded, failed, waiting, drivenBy } = outcome;
  // Driven to its end by the process this command waited for: the counts are the backfill's.
  const by = drivenBy === undefined ? '' : ` by ${drivenBy}`;
  const elsewhere = drivenBy === undefined ? {} : { drivenBy };
  if (outcome.cancelled) {
    print({
      event: 'backfill-cancelled',
      text: `${job.id}: backfill ${outcome.backfillId} cancelled${by}: ${succeeded} succeeded, ${failed} failed (piko backfill resume ${outcome.backfillId} goes on)`,
      fields: { jobId: job.id, backfillId: outcome.backfillId, succeeded, failed, ...elsewhere },
    });
    return outcome;
  }
  const still =
    waiting > 0
      ? `, ${waiting} still waiting for upstream intervals that did not succeed (piko status ${job.id} names them; run this command again once they have)`
      : '';
  // Runs an operator cancelled meanwhile (piko cancel, the UI) ended too: said, not left out.
  const { cancelled } = await options.store.backfillRunCounts(job.id, outcome.backfillId);
  const cancelledText = cancelled > 0 ? `, ${cancelled} cancelled` : '';
  print({
    event: 'backfill-done',
    text: `${job.id}: backfill ${waiting > 0 ? 'stopped' : 'done'}${by}: ${succeeded} succeeded, ${failed} failed${cancelledText}${still}`,
    fields: {
      jobId: job.id,
      backfillId: outcome.backfillId,
      succeeded,
      failed,
      cancelled,
      waiting,
      ...elsewhere,
    },
  });
  return outcome;
}

/**
 * The downstream part of a dry run: per downstream job (in dependency order) the intervals that
 * would re-run with `--downstream`, or without it, that become stale.
 */
function printDownstream(
  io: CliIo,
  downstream: readonly DownstreamBackfill[],
  rerun: boolean,
  json: boolean,
): void {
  for (const stale of downstream) {
    const estimate = stale.estimateMs === undefined ? null : stale.estimateMs;
    if (json) {
      io.out(
        JSON.stringify({
          downstream: stale.job.id,
          action: rerun ? 'rerun' : 'stale',
          intervals: stale.intervals,
          ranges: stale.ranges.map((range) => ({
            start: range.start.toISOString(),
            end: range.end.toISOString(),
            intervals: range.count,
          })),
          averageRunMs: stale.averageRunMs ?? null,
          estimateMs: estimate,
        }),
      );
      continue;
    }
    const took =
      stale.averageRunMs === undefined
        ? 'no past run to estimate from'
        : `about ${formatDuration(stale.estimateMs ?? 0)} (${stale.intervals} × ${formatDuration(Math.round(stale.averageRunMs))} average, concurrency ${stale.job.concurrency})`;
    io.out(
      `downstream ${stale.job.id} (dependsOn ${stale.job.dependsOn.join(', ')}): ${stale.intervals} interval${stale.intervals === 1 ? '' : 's'} ${rerun ? 'would re-run' : 'become stale'}, ${took}`,
    );
    for (const range of stale.ranges) {
      io.out(
        `  ${shortInstant(range.start)} → ${shortInstant(range.end)}  ${range.count} interval${range.count === 1 ? '' : 's'}`,
      );
    }
  }
  if (!rerun && downstream.length > 0 && !json) {
    io.out('add --downstream to re-run them after the upstream intervals');
  }
}

/**
 * The text mode's progress bar, one line on standard error each time it is drawn: when a round of
 * batches ends, and as runs end in between (a batch may hold hundreds of runs): at each further tenth
 * of the backfill, and otherwise when a second has passed since the last line.
 */
class ProgressBar {
  readonly #io: CliIo;
  readonly #totals: () => { readonly succeeded: number; readonly failed: number };
  #total = 0;
  /** The last line drawn, so the same one is not drawn twice. */
  #drawn = { done: -1, total: -1, failed: -1 };
  #drawnAt = 0;

  /** @param totals the runs of the backfill's runtime that have ended so far */
  constructor(io: CliIo, totals: () => { readonly succeeded: number; readonly failed: number }) {
    this.#io = io;
    this.#totals = totals;
  }

  /** A round of batches has ended; the backfill has `total` runs. */
  round(total: number): void {
    this.#total = total;
    this.#draw();
  }

  /** A run may have ended. */
  runEnded(): void {
    const { done } = this.#ended();
    if (this.#total === 0 || done === this.#drawn.done) return;
    const tenth = Math.max(1, Math.ceil(this.#total / 10));
    const nextTenth = Math.floor(done / tenth) > Math.floor(Math.max(this.#drawn.done, 0) / tenth);
    if (nextTenth || Date.now() - this.#drawnAt >= 1_000) this.#draw();
  }

  /** The runs ended so far, and how many of them failed. */
  #ended(): { done: number; failed: number } {
    const { succeeded, failed } = this.#totals();
    return { done: succeeded + failed, failed };
  }

  #draw(): void {
    const total = this.#total;
    const { done, failed } = this.#ended();
    const last = this.#drawn;
    if (done === last.done && total === last.total && failed === last.failed) return;
    this.#drawn = { done, total, failed };
    this.#drawnAt = Date.now();
    const ratio = total === 0 ? 1 : Math.min(done / total, 1);
    const filled = Math.round(ratio * BAR_WIDTH);
    this.#io.err(
      `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${done}/${total}${failed ? ` (${failed} failed)` : ''}`,
    );
  }
}

/**
 * Intervals a backfill skips because another run has them in flight (another backfill's, a
 * scheduled one): said, with where to look, since nothing here runs them and the backfill may end
 * without them.
 */
function inFlightNote(job: JobDefinition, counts: BackfillCounts): string {
  const inFlight = counts['skip-in-flight'];
  if (inFlight === 0) return '';
  return ` (${inFlight} of them in flight in another run: another backfill's or the schedule's; piko runs ${job.id} --status pending,queued,running shows them, piko backfills the backfills)`;
}
