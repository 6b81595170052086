/**
 * The local runtime's {@link WorkflowStarter} when several runtimes share one state store (DESIGN.md
 * §8): a {@link LocalWorkflowStarter} that runs an execution only while it holds the execution's
 * lease, and that sees the executions other runtimes hold.
 *
 * - `status` of an execution another live runtime holds is `running` (not `absent`, which would make
 *   the dispatcher start it again here); of one whose lease ended, `ended`; of one whose holder is
 *   dead or whose lease expired, `absent`, so the dispatcher starts it again (a takeover).
 * - `start` takes the lease first, and starts nothing when another live runtime holds it.
 * - A stage starts only while the lease is safely held: while the heartbeat cannot confirm it, new
 *   stages wait; when another runtime took it over, the execution is aborted here.
 * - `whenIdle` also waits for the executions other runtimes were seen to hold, until they end, or
 *   expire (then `onOthersDone` lets the runtime take over what they left).
 */
import { LeaseLostError } from '../../errors.ts';
import type { ExecutionLease, ExecutionRef } from '../../store/leases.ts';
import { errorMessage } from '../../telemetry.ts';
import { parseStagePayload, STAGE_EVENT_ENV } from '../../workflow/stage-event.ts';
import type { ExecutionInput, ExecutionStatus, WorkflowStarter } from '../../workflow/starter.ts';
import {
  describeHolder,
  type ExecutionLeases,
  keyOf,
  type LeaseChange,
  type LeaseStanding,
} from '../leases.ts';
import {
  type ExecutionEnd,
  LocalWorkflowStarter,
  type LocalWorkflowStarterOptions,
} from './local-starter.ts';

/** Failed looks at another runtime's lease in a row before it is no longer waited for. */
export const MAX_LEASE_CHECK_FAILURES = 10;
/** How often the leases of other runtimes' executions are looked at, at most. */
const MAX_POLL_MS = 500;

/** A line of progress about leases, in the local runtime's progress shape. */
export interface LeaseNotice {
  /** `lease-waiting`, `lease-taken-over`, `lease-at-risk`, `lease-renewed`, `lease-lost`, `lease-left`, `lease-error`. */
  readonly event: string;
  readonly text: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Options of {@link LeasedWorkflowStarter}. */
export interface LeasedWorkflowStarterOptions extends LocalWorkflowStarterOptions {
  /** This runtime's leases, made with the `onChange` the starter gives. */
  readonly leases: (onChange: (ref: ExecutionRef, change: LeaseChange) => void) => ExecutionLeases;
  /** How often other runtimes' leases are looked at while waiting. @default min(heartbeat, 500 ms) */
  readonly pollMs?: number;
  /**
   * Called when an execution another runtime held ended, expired or lost its holder, with its job:
   * a runtime that runs the schedule dispatches that job again (taking over what was left).
   * @default nothing
   */
  readonly onOthersDone?: (jobId: string) => void;
  /** Where lease progress goes. @default nothing */
  readonly onNotice?: (notice: LeaseNotice) => void;
}

interface Watched {
  readonly ref: ExecutionRef;
  lease: ExecutionLease | undefined;
  failures: number;
}

/** Runs job workflows in process, each under a lease (see the module comment). */
export class LeasedWorkflowStarter implements WorkflowStarter {
  readonly leases: ExecutionLeases;
  readonly #local: LocalWorkflowStarter;
  readonly #options: LeasedWorkflowStarterOptions;
  readonly #pollMs: number;
  /** Executions other runtimes hold, watched until they end or can be taken over. */
  readonly #others = new Map<string, Watched>();
  /** Lease writes of ended executions still under way: whenIdle waits for them. */
  readonly #writes = new Set<Promise<void>>();
  /** The holder last said to run a job's executions, by job id. */
  readonly #announced = new Map<string, string>();
  #watching: Promise<void> | undefined;
  #stopped = false;

  constructor(options: LeasedWorkflowStarterOptions) {
    this.#options = options;
    this.leases = options.leases((ref, change) => this.#changed(ref, change));
    this.#pollMs = options.pollMs ?? Math.min(this.leases.heartbeatMs, MAX_POLL_MS);
    const { bindings } = options;
    this.#local = new LocalWorkflowStarter({
      ...options,
      bindings: {
        invokeStage: async (payload, context) => {
          await this.#guard(payload.run, context.signal);
          return bindings.invokeStage(payload, context);
        },
        runFargateTask: async (request, context) => {
          const payload = parseStagePayload(JSON.parse(request.environment[STAGE_EVENT_ENV] ?? 'null'));
          await this.#guard(payload.run, context.signal);
          return bindings.runFargateTask(request, context);
        },
        continueDispatch: (jobId, context) => bindings.continueDispatch(jobId, context),
      },
      onExecutionEnd: (end) => {
        this.#finish(end);
        options.onExecutionEnd?.(end);
      },
    });
  }

  /**
   * Starts the execution here if this runtime can take its lease; when another live runtime holds
   * it, starts nothing and waits for that one instead (see {@link whenIdle}).
   */
  async start(input: ExecutionInput): Promise<void> {
    const ref = { jobId: input.jobId, executionName: input.executionName };
    // Known here (running or ended): starting it again does nothing, as in Step Functions.
    if ((await this.#local.status(ref.jobId, ref.executionName)) !== 'absent')
      return this.#local.start(input);
    const claim = await this.leases.acquire(ref);
    if (!claim.acquired) {
      if (claim.standing === 'held') this.#watch(ref, claim.lease);
      return;
    }
    if (claim.from) this.#tookOver(ref, claim.from.lease, claim.from.standing);
    try {
      await this.#local.start(input);
    } catch (error) {
      await this.leases.finish(ref, 'stopped').catch(() => undefined);
      throw error;
    }
  }

  async status(jobId: string, executionName: string): Promise<ExecutionStatus> {
    const local = await this.#local.status(jobId, executionName);
    if (local !== 'absent') return local;
    const ref = { jobId, executionName };
    const { lease, standing } = await this.leases.standing(ref);
    if (standing === 'held') {
      this.#watch(ref, lease);
      return 'running';
    }
    return standing === 'ended' ? 'ended' : 'absent';
  }

  /**
   * Resolves once the execution runs neither here nor in another live runtime (it ended, or its
   * holder's lease expired or its holder is gone), or the starter was stopped.
   */
  async whenEnded(ref: ExecutionRef): Promise<void> {
    await this.#local.whenEnded(ref.jobId, ref.executionName);
    // Ended here: its lease's end is being written; read the lease once that is done.
    if (this.#writes.size > 0) await Promise.allSettled([...this.#writes]);
    while (!this.#stopped && (await this.leases.standing(ref)).standing === 'held') {
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
    }
  }

  /** Executions running here now. */
  get running(): number {
    return this.#local.running;
  }

  /**
   * Resolves when no execution runs here, the leases of those that ended are written, and no
   * execution another runtime was seen to hold is still held (unless the starter was stopped).
   */
  async whenIdle(): Promise<void> {
    for (;;) {
      await this.#local.whenIdle();
      if (this.#writes.size > 0) {
        await Promise.allSettled([...this.#writes]);
        continue;
      }
      if (this.#watching && !this.#stopped) {
        await this.#watching;
        continue;
      }
      return;
    }
  }

  /** Aborts every execution running here (see LocalWorkflowStarter.abortAll) and stops waiting for others. */
  abortAll(): void {
    this.#stopped = true;
    this.#local.abortAll();
  }

  /**
   * A stage is about to start: only while this runtime safely holds the execution's lease. While the
   * heartbeat cannot confirm it, the stage waits; when the lease is lost (or the execution aborted),
   * the execution stops here without recording anything.
   */
  async #guard(ref: ExecutionRef, signal: AbortSignal): Promise<void> {
    if (this.leases.holds(ref) || (await this.leases.whenHeld(ref, signal))) return;
    this.#local.abort(ref.jobId, ref.executionName);
    throw new LeaseLostError(
      `Execution "${ref.executionName}" of job "${ref.jobId}" is no longer leased by this runtime: ` +
        'no new stage of it starts here; another runtime takes it over.',
    );
  }

  #changed(ref: ExecutionRef, change: LeaseChange): void {
    const name = `${ref.jobId}: execution ${ref.executionName}`;
    if (change.kind === 'at-risk') {
      this.#notice(
        'lease-at-risk',
        `${name}: lease not renewed (${change.reason}): no new stage of it starts until the state store answers again`,
        { ...ref, reason: change.reason },
      );
    } else if (change.kind === 'renewed') {
      this.#notice('lease-renewed', `${name}: lease renewed again: its stages go on`, { ...ref });
    } else {
      // Stages already running finish; no new one starts, nothing more is recorded by this runtime.
      this.#local.abort(ref.jobId, ref.executionName);
      this.#notice(
        'lease-lost',
        `${ref.jobId}: lost the lease of execution ${ref.executionName} (${change.reason}): no new stage of it starts here; another runtime takes it over`,
        { ...ref, reason: change.reason },
      );
      // Waited for like any other runtime's execution: taken over by whoever may once it is left.
      this.#watch(ref, undefined);
    }
  }

  #finish(end: ExecutionEnd): void {
    const ref = { jobId: end.input.jobId, executionName: end.input.executionName };
    const aborted = end.outcome === 'aborted';
    // Aborted (a stop, a lost lease): its runs are anyone's to resume, this runtime's too, so its
    // status is the lease's from now on, not "ended here". Else it is over for everyone.
    if (aborted) this.#local.forget(ref.jobId, ref.executionName);
    const write = this.leases
      .finish(ref, aborted ? 'stopped' : 'ended')
      .catch((error) =>
        this.#notice(
          'lease-error',
          `${ref.jobId}: could not record the end of execution ${ref.executionName} in its lease (${errorMessage(error)}); ` +
            'the heartbeat keeps the lease and tries again',
          { ...ref, error: errorMessage(error) },
        ),
      );
    this.#writes.add(write);
    void write.finally(() => this.#writes.delete(write));
  }

  #tookOver(ref: ExecutionRef, lease: ExecutionLease, standing: LeaseStanding): void {
    const why =
      standing === 'dead' ? 'that process is gone' : `its lease expired at ${lease.expiresAt.toISOString()}`;
    this.#notice(
      'lease-taken-over',
      `${ref.jobId}: took over execution ${ref.executionName} from ${describeHolder(lease.holder)} (${why})`,
      { ...ref, from: describeHolder(lease.holder), standing },
    );
  }

  /** Watches an execution another runtime holds, until it ends or can be taken over. */
  #watch(ref: ExecutionRef, lease: ExecutionLease | undefined): void {
    if (this.#stopped) return;
    const key = keyOf(ref);
    if (!this.#others.has(key)) {
      this.#others.set(key, { ref, lease, failures: 0 });
      const holder = lease ? describeHolder(lease.holder) : 'another runtime';
      // Said once per job and holder: a standby would otherwise print a line per batch it leaves.
      if (this.#announced.get(ref.jobId) !== holder) {
        this.#announced.set(ref.jobId, holder);
        this.#notice(
          'lease-waiting',
          `${ref.jobId}: execution ${ref.executionName} runs in ${holder}` +
            `${lease ? ` (lease until ${lease.expiresAt.toISOString()})` : ''}; waiting for it to end, or to take it over if that runtime stops`,
          { ...ref, holder, ...(lease ? { expiresAt: lease.expiresAt.toISOString() } : {}) },
        );
      }
    }
    this.#startWatching();
  }

  #startWatching(): void {
    this.#watching ??= this.#watchOthers().finally(() => {
      this.#watching = undefined;
    });
  }

  async #watchOthers(): Promise<void> {
    while (this.#others.size > 0 && !this.#stopped) {
      await new Promise((resolve) => setTimeout(resolve, this.#pollMs));
      const done = new Set<string>();
      for (const [key, watched] of this.#others) {
        try {
          const { lease, standing } = await this.leases.standing(watched.ref);
          watched.failures = 0;
          // Still held elsewhere, or still winding down here (an execution whose lease was lost).
          const local = await this.#local.status(watched.ref.jobId, watched.ref.executionName);
          if (standing === 'held' || local === 'running') {
            watched.lease = lease;
            continue;
          }
          this.#others.delete(key);
          done.add(watched.ref.jobId);
        } catch (error) {
          if (++watched.failures < MAX_LEASE_CHECK_FAILURES) continue;
          this.#others.delete(key);
          const holder = watched.lease ? describeHolder(watched.lease.holder) : 'another runtime';
          this.#notice(
            'lease-left',
            `${watched.ref.jobId}: stopped waiting for execution ${watched.ref.executionName} of ${holder}: the state store did not answer ` +
              `${watched.failures} times in a row (${errorMessage(error)}). It is left to that runtime, or to the next piko start once its lease expires`,
            { ...watched.ref, holder, error: errorMessage(error) },
          );
        }
      }
      if (this.#stopped) return;
      for (const jobId of done) this.#options.onOthersDone?.(jobId);
    }
  }

  #notice(event: string, text: string, fields: Record<string, unknown>): void {
    this.#options.onNotice?.({ event, text, fields });
  }
}
