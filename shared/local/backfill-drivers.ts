/**
 * Who drives a backfill locally (DESIGN.md §8): a backfill is planned and its lane dispatched batch
 * after batch by one process at a time, its **driver**, which holds a lease on it in `piko_leases`
 * (the execution leases' table, under the name `driver:<backfill id>`, which no execution name can
 * take: they never hold `:`). `piko backfill` drives the backfill it asked for; a long-running
 * `piko start` adopts every unfinished backfill (`planning` or `planned`) nobody drives: one whose
 * `piko backfill` died, one recorded by the UI, one whose driver's lease expired. So a backfill
 * survives its process, and however many runtimes share the store, only one dispatches it.
 *
 * The driver dispatches only while its lease is safely held (as a stage starts only under its
 * execution's lease): when the heartbeat cannot confirm it, it waits; when another runtime took it
 * over, it stops. It gives the lease up (deletes it) when the backfill ends, is cancelled, or the
 * runtime stops, so another runtime may go on at once.
 */
import type { JobDefinition } from '../job.ts';
import type { DispatchResult } from '../planner/dispatch.ts';
import {
  type BackfillOutcome,
  type BackfillRequest,
  backfillId,
  backfillRequestOf,
  type LaneRunner,
  type RunBackfillOptions,
  runBackfill,
} from '../planner/index.ts';
import type { JobRegistry } from '../registry.ts';
import { backfillDriverRef, type ExecutionLease, type ExecutionRef } from '../store/leases.ts';
import type { BackfillStatus, DispatchLane, StateStore } from '../store/types.ts';
import { errorMessage } from '../telemetry.ts';
import { describeHolder, type ExecutionLeases, type LeaseStanding } from './leases.ts';
import type { ProgressEvent } from './progress.ts';

/** The statuses of a backfill a runtime adopts: being planned, or planned and running. */
export const ADOPTED_STATUSES: readonly BackfillStatus[] = ['planning', 'planned'];
/** Unfinished backfills one adoption round looks at, at most (oldest are found once newer ones end). */
export const ADOPT_SCAN_LIMIT = 100;

/** What drives a backfill's lane: the local runtime, by shape (it builds the drivers). */
export interface BackfillLanes {
  /** See LocalRuntime.dispatchLane. */
  dispatchLane(
    job: JobDefinition,
    lane: DispatchLane,
    newestFirst?: boolean,
    maxRuns?: number,
  ): Promise<DispatchResult>;
  /** Resolves once none of these executions of the job runs here or in another live runtime. */
  whenExecutionsEnd(jobId: string, executionNames: readonly string[]): Promise<void>;
  /** Resolves when nothing runs here (see LocalRuntime.whenIdle). */
  whenIdle(): Promise<void>;
  /** Runs that ended here since the runtime was created. */
  readonly totals: { readonly succeeded: number; readonly failed: number };
}

/** Options of {@link BackfillDrivers}. */
export interface BackfillDriversOptions {
  readonly store: StateStore;
  readonly jobs: JobRegistry;
  readonly lanes: BackfillLanes;
  /** The drivers' own leases (a holder of their own, beside the executions'). */
  readonly leases: ExecutionLeases;
  /** Intervals a backfill may hold, as `[piko] max_backfill_intervals`. @default planBackfill's */
  readonly maxBackfillIntervals?: number;
  /** How often unfinished backfills are looked for while watching. @default the leases' heartbeat */
  readonly scanMs?: number;
  /** How often a paused backfill or job is looked at again. @default runBackfill's */
  readonly pausedPollMs?: number;
  /** @default () => new Date() */
  readonly clock?: () => Date;
  /** Where the drivers' progress lines go. @default nothing */
  readonly onProgress?: (event: ProgressEvent) => void;
}

/** What {@link BackfillDrivers.drive} did. */
export type DriveResult =
  /** This process drove it until it ended, was cancelled, or was stopped. */
  | { readonly driven: true; readonly outcome: BackfillOutcome }
  /** Another live process drives it: it was left alone. */
  | { readonly driven: false; readonly holder: string; readonly lease: ExecutionLease | undefined };

interface Drive {
  readonly controller: AbortController;
  readonly done: Promise<unknown>;
}

/**
 * The backfills one process drives (see the module comment): {@link drive} one (piko backfill), or
 * {@link watch} the store and adopt every unfinished one nobody drives (piko start).
 */
export class BackfillDrivers {
  readonly #options: BackfillDriversOptions;
  readonly #leases: ExecutionLeases;
  readonly #drives = new Map<string, Drive>();
  readonly #progress: (event: ProgressEvent) => void;
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<number> | undefined;
  #stopped = false;
  /** Backfills an adoption left waiting for upstream intervals, with nothing run: how many runs wait. */
  readonly #waitingLeft = new Map<string, number>();

  constructor(options: BackfillDriversOptions) {
    this.#options = options;
    this.#leases = options.leases;
    this.#progress = options.onProgress ?? (() => {});
  }

  /** Backfills driven here now. */
  get driving(): number {
    return this.#drives.size;
  }

  /** Who drives a backfill now: its lease and where it stands for this process. */
  standing(
    jobId: string,
    id: string,
  ): Promise<{ lease: ExecutionLease | undefined; standing: LeaseStanding }> {
    return this.#leases.standing(backfillDriverRef(jobId, id));
  }

  /**
   * Drives the backfill of `request` here until it ends: takes its driver lease (taking it over
   * from a holder that expired or died), then runs it with {@link runBackfill} and gives the lease
   * up. Another live driver keeps it: nothing is done, and the result names that driver.
   * @throws what runBackfill throws (the lease is given up first).
   */
  async drive(
    job: JobDefinition,
    request: BackfillRequest,
    options: Omit<RunBackfillOptions, 'signal'> = {},
  ): Promise<DriveResult> {
    const id = backfillId(request);
    const ref = backfillDriverRef(job.id, id);
    const claim = await this.#leases.acquire(ref);
    if (!claim.acquired) {
      return {
        driven: false,
        holder: claim.lease ? describeHolder(claim.lease.holder) : 'another process',
        lease: claim.lease,
      };
    }
    return { driven: true, outcome: await this.#run(job, request, options, 'process') };
  }

  /**
   * {@link drive}, and while another live process drives the backfill, waits for it (said once
   * through `onHeld`), looking again every heartbeat: when that driver stops before the end (killed,
   * its lease expired), this one takes over; when it ended or cancelled the backfill, so does this
   * call, with nothing run here.
   */
  async driveOrWait(
    job: JobDefinition,
    request: BackfillRequest,
    options: Omit<RunBackfillOptions, 'signal'> & { readonly onHeld?: (holder: string) => void } = {},
  ): Promise<BackfillOutcome> {
    const { onHeld, ...runOptions } = options;
    let told: string | undefined;
    for (;;) {
      const id = backfillId(request);
      const ref = backfillDriverRef(job.id, id);
      const claim = await this.#leases.acquire(ref);
      if (claim.acquired) {
        if (told !== undefined) {
          // Read under the lease: what the other driver left. Ended: never start it over here.
          const record = await this.#options.store.getBackfill(id);
          if (record && (record.status === 'done' || record.status === 'cancelled')) {
            await this.#leases.finish(ref, 'stopped').catch(() => undefined);
            // What it ran is the backfill's, as the state table has it (this runtime ran nothing).
            const counts = await this.#options.store.backfillRunCounts(job.id, id);
            return {
              backfillId: id,
              succeeded: counts.succeeded,
              failed: counts.failed,
              waiting: counts.waiting,
              drivenBy: told,
              ...(record.status === 'cancelled' ? { cancelled: true } : {}),
            };
          }
        }
        return this.#run(job, request, runOptions, 'process');
      }
      const holder = claim.lease ? describeHolder(claim.lease.holder) : 'another process';
      if (told !== holder) onHeld?.(holder);
      told = holder;
      await new Promise((resolve) => setTimeout(resolve, this.#leases.heartbeatMs));
    }
  }

  /**
   * Starts watching the store: at once and every `scanMs`, adopts the unfinished backfills of the
   * jobs defined here that no live process drives ({@link adopt}). Until {@link stop}.
   */
  watch(): void {
    if (this.#stopped || this.#timer) return;
    const every = this.#options.scanMs ?? this.#leases.heartbeatMs;
    this.#timer = setInterval(() => void this.adopt(), every);
    this.#timer.unref();
    void this.adopt();
  }

  /**
   * One round: every unfinished backfill (`planning`, `planned`) of a job defined here whose driver
   * lease is free, expired or of a dead process is taken and driven in the background. Resolves
   * with how many it adopted; a store that does not answer is said and tried at the next round.
   */
  adopt(): Promise<number> {
    if (this.#stopped) return Promise.resolve(0);
    // Rounds never overlap: a round started meanwhile shares the running one.
    this.#scanning ??= this.#adoptRound().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  /**
   * Stops: no backfill is adopted any more, and each driven here stops at its next round (its
   * executions already started go on; the runtime's stop waits for them) and gives its lease up.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const drive of this.#drives.values()) drive.controller.abort();
    await this.#scanning?.catch(() => undefined);
    await Promise.allSettled([...this.#drives.values()].map((drive) => drive.done));
  }

  async #adoptRound(): Promise<number> {
    let adopted = 0;
    try {
      const unfinished = await this.#options.store.listBackfills({
        statuses: ADOPTED_STATUSES,
        limit: ADOPT_SCAN_LIMIT,
      });
      // Oldest first: they have waited longest.
      for (const record of unfinished.reverse()) {
        if (this.#stopped) break;
        if (this.#drives.has(record.backfillId) || !this.#options.jobs.has(record.jobId)) continue;
        const ref = backfillDriverRef(record.jobId, record.backfillId);
        const claim = await this.#leases.acquire(ref);
        if (!claim.acquired) continue;
        // Read again under the lease: a driver that just finished it (done, then gave the lease
        // up) must not see it run again, as running a done backfill's request would start it over.
        const current = await this.#options.store.getBackfill(record.backfillId);
        if (!current || !ADOPTED_STATUSES.includes(current.status)) {
          await this.#leases.finish(ref, 'stopped').catch(() => undefined);
          continue;
        }
        const job = this.#options.jobs.get(record.jobId);
        // Left waiting for upstream intervals the last time, with nothing run: adopted again each
        // round (its dispatch releases what became ready), but said again only once it moves.
        const quiet = this.#waitingLeft.has(record.backfillId) && !claim.from;
        const from = claim.from
          ? ` from ${describeHolder(claim.from.lease.holder)} (${claim.from.standing === 'dead' ? 'that process is gone' : `its lease expired at ${claim.from.lease.expiresAt.toISOString()}`})`
          : '';
        if (!quiet) {
          this.#progress({
            event: 'backfill-adopted',
            text: `${job.id}: running backfill ${record.backfillId} (${current.status}, ${record.range.start.toISOString()} → ${record.range.end.toISOString()})${from}`,
            fields: {
              jobId: job.id,
              backfillId: record.backfillId,
              status: current.status,
              ...(claim.from ? { from: describeHolder(claim.from.lease.holder) } : {}),
            },
          });
        }
        adopted++;
        // A backfill recorded while its job is paused (the UI's, say) is planned now and waits
        // for the resume here, as piko backfill --wait does; refused, it stayed `planning` and
        // failed again every round.
        void this.#run(job, backfillRequestOf(current), { waitWhilePaused: true }, 'adopted').then(
          (outcome) => this.#reportEnd(job, outcome, quiet),
          (error: unknown) =>
            this.#progress({
              event: 'backfill-error',
              text: `${job.id}: backfill ${record.backfillId} stopped: ${errorMessage(error)} (the next round tries again)`,
              fields: { jobId: job.id, backfillId: record.backfillId, error: errorMessage(error) },
            }),
        );
      }
    } catch (error) {
      this.#progress({
        event: 'backfill-error',
        text: `could not look for unfinished backfills: ${errorMessage(error)} (tried again at the next round)`,
        fields: { error: errorMessage(error) },
      });
    }
    return adopted;
  }

  /** Runs a backfill whose lease is held here, until it ends or is stopped; gives the lease up. */
  async #run(
    job: JobDefinition,
    request: BackfillRequest,
    options: Omit<RunBackfillOptions, 'signal'>,
    mode: DriverMode,
  ): Promise<BackfillOutcome> {
    const id = backfillId(request);
    const ref = backfillDriverRef(job.id, id);
    const controller = new AbortController();
    let settle: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.#drives.set(id, { controller, done });
    if (this.#stopped) controller.abort();
    try {
      const runner = new DriverLanes(this.#options, this.#leases, ref, controller, mode);
      await runner.start(job.id, id);
      return await runBackfill(this.#options.store, job, request, runner, {
        limits:
          this.#options.maxBackfillIntervals === undefined
            ? undefined
            : { maxBackfillIntervals: this.#options.maxBackfillIntervals },
        pausedPollMs: this.#options.pausedPollMs,
        clock: this.#options.clock,
        ...options,
        signal: controller.signal,
      });
    } finally {
      this.#drives.delete(id);
      await this.#leases.finish(ref, 'stopped').catch(() => undefined);
      settle();
    }
  }

  /**
   * Says how a drive ended. A backfill left waiting for upstream intervals with nothing run is
   * remembered, with how many wait: its next rounds say nothing until that changes (`quiet`).
   */
  #reportEnd(job: JobDefinition, outcome: BackfillOutcome, quiet = false): void {
    const { backfillId: id, succeeded, failed, waiting } = outcome;
    const idle = !outcome.stopped && !outcome.cancelled && waiting > 0 && succeeded + failed === 0;
    const unchanged = quiet && idle && this.#waitingLeft.get(id) === waiting;
    if (idle) this.#waitingLeft.set(id, waiting);
    else this.#waitingLeft.delete(id);
    if (unchanged) return;
    const ended = outcome.stopped
      ? 'left to another runtime'
      : outcome.cancelled
        ? 'cancelled'
        : waiting > 0
          ? `stopped, ${waiting} run(s) waiting for upstream intervals that did not succeed`
          : 'done';
    this.#progress({
      event: outcome.stopped
        ? 'backfill-left'
        : outcome.cancelled
          ? 'backfill-cancelled'
          : waiting > 0
            ? 'backfill-stopped'
            : 'backfill-done',
      text: `${job.id}: backfill ${id} ${ended}: ${succeeded} succeeded, ${failed} failed here`,
      fields: { jobId: job.id, backfillId: id, succeeded, failed, waiting },
    });
  }
}

/**
 * How a driver waits and counts: `process`, a process that runs this backfill only (piko backfill),
 * as the runtime does (everything it runs); `adopted`, in a runtime that runs the schedule too, only
 * the backfill's own executions, and totals counted from the backfill's runs in the store.
 */
type DriverMode = 'process' | 'adopted';

/**
 * The lanes of one driven backfill as {@link runBackfill} sees them: a dispatch only while the
 * driver lease is safely held (else the drive stops); waits and totals as its {@link DriverMode} says.
 */
class DriverLanes implements LaneRunner {
  readonly #options: BackfillDriversOptions;
  readonly #leases: ExecutionLeases;
  readonly #ref: ExecutionRef;
  readonly #controller: AbortController;
  readonly #mode: DriverMode;
  #jobId = '';
  #id = '';
  #names: string[] = [];
  #base = { succeeded: 0, failed: 0 };
  #counted = { succeeded: 0, failed: 0 };

  constructor(
    options: BackfillDriversOptions,
    leases: ExecutionLeases,
    ref: ExecutionRef,
    controller: AbortController,
    mode: DriverMode,
  ) {
    this.#mode = mode;
    this.#options = options;
    this.#leases = leases;
    this.#ref = ref;
    this.#controller = controller;
  }

  /** Counts from here on: what this driver runs, not what earlier ones did. */
  get totals(): { readonly succeeded: number; readonly failed: number } {
    return this.#mode === 'process' ? this.#options.lanes.totals : this.#counted;
  }

  async start(jobId: string, id: string): Promise<void> {
    this.#jobId = jobId;
    this.#id = id;
    if (this.#mode === 'process') return;
    const counts = await this.#options.store.backfillRunCounts(jobId, id);
    this.#base = { succeeded: counts.succeeded, failed: counts.failed };
  }

  async dispatchLane(
    job: JobDefinition,
    lane: DispatchLane,
    newestFirst?: boolean,
    maxRuns?: number,
  ): Promise<DispatchResult> {
    const nothing: DispatchResult = {
      started: [],
      restarted: [],
      requeued: 0,
      failed: 0,
      live: [],
      paused: false,
    };
    // Dispatch only under a lease the store confirmed recently; lost (or stopping): stop driving.
    if (!(await this.#leases.whenHeld(this.#ref, this.#controller.signal))) {
      this.#controller.abort();
      return nothing;
    }
    const result = await this.#options.lanes.dispatchLane(job, lane, newestFirst, maxRuns);
    this.#names = [
      ...result.started.map((input) => input.executionName),
      ...result.restarted,
      ...result.live,
    ];
    // A batch queued ahead started once the one before it ended: that one's runs count now.
    if (this.#mode === 'adopted' && result.started.length > 0) await this.#count();
    return result;
  }

  async whenIdle(): Promise<void> {
    const names = this.#names;
    this.#names = [];
    if (this.#mode === 'process') return this.#options.lanes.whenIdle();
    if (names.length > 0) await this.#options.lanes.whenExecutionsEnd(this.#jobId, names);
    await this.#count();
  }

  /** The backfill's runs ended since this driver started, from the store. */
  async #count(): Promise<void> {
    const counts = await this.#options.store.backfillRunCounts(this.#jobId, this.#id);
    this.#counted = {
      succeeded: Math.max(0, counts.succeeded - this.#base.succeeded),
      failed: Math.max(0, counts.failed - this.#base.failed),
    };
  }
}
