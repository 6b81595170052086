/**
 * What a local runtime does with execution leases (DESIGN.md §8, `shared/store/leases.ts`): who it is
 * (host, pid, a token of its own), whether another holder is alive, taking a lease (or taking one
 * over), and the heartbeat that keeps what it holds. A runtime starts a stage of an execution only
 * while its lease is safely held: when the heartbeat has not reached the store for most of the lease,
 * it gives the execution up before anyone else may take it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { ExecutionLease, ExecutionRef, LeaseHolder, LeaseStore } from '../store/leases.ts';
import { errorMessage } from '../telemetry.ts';

/** How long a lease lasts unless renewed, when `[runtime] lease_seconds` is not set. @default 30 s */
export const DEFAULT_LEASE_MS = 30_000;
/** Leases that expired longer ago than this are deleted by the heartbeat (ended ones included). */
export const LEASE_RETENTION_MS = 3_600_000;
/** Heartbeats between two prunings of long-expired leases. */
const PRUNE_EVERY_BEATS = 30;

/**
 * Where a lease stands for the runtime that looks at it:
 * - `none`: the execution has no lease (never started, or stopped and released): anyone may start it;
 * - `ended`: its execution ended; nobody starts it again (its runs left in flight are requeued);
 * - `mine`: this runtime holds it;
 * - `held`: another runtime holds it and may be alive: leave it;
 * - `expired`: its holder did not renew it in time: anyone may take it over;
 * - `dead`: its holder ran on this host and its process is gone: anyone may take it over at once.
 */
export type LeaseStanding = 'none' | 'ended' | 'mine' | 'held' | 'expired' | 'dead';

/** Tokens of the runtimes of this process: another token with this process's pid is an earlier process. */
const LIVE_TOKENS = new Set<string>();

let hostKey: string | undefined;

/**
 * This host, as leases name it: the host name, with the kernel's boot id and this process's pid
 * namespace where Linux tells them, so that two holders with the same host see the same processes
 * (a reboot, or a container with the same host name, is another host).
 */
export function leaseHost(): string {
  if (hostKey === undefined) {
    const parts = [hostname()];
    const bootId = readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    if (bootId) parts.push(`boot ${bootId.slice(0, 8)}`);
    const pidNamespace = readOr(() => readlinkSync('/proc/self/ns/pid').replace(/^pid:\[(\d+)\]$/, '$1'));
    if (pidNamespace) parts.push(`pidns ${pidNamespace}`);
    hostKey = parts.join(' / ').slice(0, 255);
  }
  return hostKey;
}

/** A new holder for a runtime of this process: this host and pid, a random token. */
export function newLeaseHolder(): LeaseHolder {
  const holder = { host: leaseHost(), pid: process.pid, token: randomBytes(12).toString('hex') };
  LIVE_TOKENS.add(holder.token);
  return holder;
}

/**
 * Whether a holder on this host is alive: for this process's pid, whether the token is one of this
 * process's runtimes; for another pid, whether that process exists and is not a zombie. A pid that
 * was reused by an unrelated process counts as alive: its lease is then taken over once expired.
 */
export function holderAliveHere(holder: LeaseHolder): boolean {
  if (holder.pid === process.pid) return LIVE_TOKENS.has(holder.token);
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // Killed but not yet reaped by its parent: gone for our purposes.
  const stat = readOr(() => readFileSync(`/proc/${holder.pid}/stat`, 'utf8'));
  return !stat || !/^\d+ \(.*\) Z /s.test(stat);
}

/** Where `lease` stands for `self` at `now` (see {@link LeaseStanding}). Pure but for `isAlive`. */
export function leaseStanding(
  lease: ExecutionLease | undefined,
  self: LeaseHolder,
  now: Date,
  isAlive: (holder: LeaseHolder) => boolean = holderAliveHere,
): LeaseStanding {
  if (!lease) return 'none';
  if (lease.endedAt !== null) return 'ended';
  if (lease.holder.token === self.token) return 'mine';
  if (lease.holder.host === self.host && !isAlive(lease.holder)) return 'dead';
  if (lease.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'held';
}

/** A holder for messages: `pid 4242 on build-01`. */
export function describeHolder(holder: LeaseHolder): string {
  return `pid ${holder.pid} on ${holder.host.split(' / ')[0]}`;
}

/** What {@link ExecutionLeases.acquire} got. */
export type LeaseClaim =
  | {
      readonly acquired: true;
      /** The lease taken over, when the execution had one (`expired` or `dead`). */
      readonly from?: { readonly lease: ExecutionLease; readonly standing: LeaseStanding };
    }
  | {
      readonly acquired: false;
      /** The lease that stays: `held` by another runtime, or `ended`. */
      readonly lease: ExecutionLease | undefined;
      readonly standing: LeaseStanding;
    };

/** What happened to a lease this runtime holds. */
export type LeaseChange =
  /** Not confirmed by the store for `ttl - heartbeat`: no new stage starts until it is renewed. */
  | { readonly kind: 'at-risk'; readonly reason: string }
  /** Renewed again after it was at risk: its stages go on. */
  | { readonly kind: 'renewed' }
  /** Another runtime holds it now (it had expired), or it is gone: no stage of it starts here again. */
  | { readonly kind: 'lost'; readonly reason: string };

/** Options of {@link ExecutionLeases}. */
export interface ExecutionLeasesOptions {
  readonly store: LeaseStore;
  /** How long a lease lasts unless renewed. @default DEFAULT_LEASE_MS */
  readonly ttlMs?: number;
  /** How often held leases are renewed. @default ttlMs / 3 */
  readonly heartbeatMs?: number;
  /** The clock leases are written and judged by (wall-clock time, shared by the hosts). @default () => new Date() */
  readonly clock?: () => Date;
  /** Who this runtime is. @default newLeaseHolder() */
  readonly holder?: LeaseHolder;
  /** Whether a holder on this host is alive. @default holderAliveHere */
  readonly isAlive?: (holder: LeaseHolder) => boolean;
  /** Called when a held lease is at risk, renewed again, or lost. @default nothing */
  readonly onChange?: (ref: ExecutionRef, change: LeaseChange) => void;
  /**
   * Called after each heartbeat that could not reach the store, with how long it has failed in a
   * row: a runtime that must end (`start --once`) gives up on a store that stays out of reach,
   * since stages wait for a renewal that would never come. @default nothing
   */
  readonly onHeartbeatError?: (failure: HeartbeatFailure) => void;
}

/** A heartbeat that could not reach the store (see {@link ExecutionLeasesOptions.onHeartbeatError}). */
export interface HeartbeatFailure {
  readonly error: unknown;
  /** Heartbeats that failed in a row, this one included. */
  readonly failures: number;
  /** From the first of them to this one's start. */
  readonly failingForMs: number;
  /** The executions whose leases it could not renew (those held, and those ended but not yet recorded). */
  readonly held: readonly ExecutionRef[];
}

interface HeldLease {
  readonly ref: ExecutionRef;
  /** When the store last confirmed the lease (ms): it holds until then + ttl. */
  confirmedAt: number;
  /** The registration it came with: a heartbeat judges only leases registered before it asked. */
  readonly registration: number;
  /** Said to be at risk, not renewed since. */
  atRisk: boolean;
  /** Stages waiting for the lease to be confirmed again: told true when it is, false when it is lost. */
  readonly waiters: Set<(held: boolean) => void>;
}

/**
 * The leases one runtime holds. {@link acquire} takes a lease (creating it, or taking over an expired
 * or dead holder's); a heartbeat every `heartbeatMs` renews them all in one statement while any is
 * held. A lease the store has not confirmed for `ttl - heartbeat` (the heartbeat cannot reach it, or
 * the process stalled) is at risk, before it could expire: {@link holds} answers false, so no new
 * stage starts, until a heartbeat renews it (nobody took it meanwhile: its stages go on) or finds it
 * taken by another runtime (lost: its stages never start here).
 */
export class ExecutionLeases {
  readonly holder: LeaseHolder;
  readonly ttlMs: number;
  readonly heartbeatMs: number;
  readonly #store: LeaseStore;
  readonly #clock: () => Date;
  readonly #isAlive: (holder: LeaseHolder) => boolean;
  readonly #onChange: (ref: ExecutionRef, change: LeaseChange) => void;
  readonly #onHeartbeatError: (failure: HeartbeatFailure) => void;
  /** When the first of the heartbeats failing in a row started, and how many have failed. */
  #failing: { since: number; failures: number } | undefined;
  readonly #held = new Map<string, HeldLease>();
  /** Leases whose execution is over, until the store has recorded it (renewed meanwhile, so nobody takes them). */
  readonly #finishing = new Map<string, { ref: ExecutionRef; outcome: 'ended' | 'stopped' }>();
  #registrations = 0;
  #beats = 0;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;

  constructor(options: ExecutionLeasesOptions) {
    this.#store = options.store;
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_MS;
    this.heartbeatMs = options.heartbeatMs ?? this.ttlMs / 3;
    if (!(this.ttlMs > 0) || !(this.heartbeatMs > 0) || this.heartbeatMs * 2 > this.ttlMs) {
      throw new RangeError(
        `A lease of ${this.ttlMs} ms needs a heartbeat of more than 0 ms and at most half of it, got ${this.heartbeatMs} ms.`,
      );
    }
    this.#clock = options.clock ?? (() => new Date());
    this.holder = options.holder ?? newLeaseHolder();
    this.#isAlive = options.isAlive ?? holderAliveHere;
    this.#onChange = options.onChange ?? (() => {});
    this.#onHeartbeatError = options.onHeartbeatError ?? (() => {});
  }

  /** Executions held now. */
  get held(): number {
    return this.#held.size;
  }

  /** An execution's lease and where it stands for this runtime. */
  async standing(ref: ExecutionRef): Promise<{ lease: ExecutionLease | undefined; standing: LeaseStanding }> {
    const lease = await this.#store.get(ref);
    return { lease, standing: leaseStanding(lease, this.holder, this.#clock(), this.#isAlive) };
  }

  /**
   * Takes the lease of an execution: creates it when there is none; takes it over when it is expired,
   * its holder is dead, or it is a stale one of this runtime's. Refused when another live runtime
   * holds it, or when the execution ended.
   */
  async acquire(ref: ExecutionRef): Promise<LeaseClaim> {
    for (let attempt = 0; ; attempt++) {
      const now = this.#clock();
      if (await this.#store.create(ref, this.holder, now, this.ttlMs)) {
        this.#register(ref, now);
        return { acquired: true };
      }
      const lease = await this.#store.get(ref);
      // Released between the two statements: try to create it once more.
      if (!lease && attempt === 0) continue;
      const standing = leaseStanding(lease, this.holder, now, this.#isAlive);
      if (lease && (standing === 'expired' || standing === 'dead' || standing === 'mine')) {
        if (await this.#store.takeOver(lease, this.holder, now, this.ttlMs)) {
          this.#register(ref, now);
          return { acquired: true, from: { lease, standing } };
        }
        // Someone else was quicker (or its holder renewed after all): where it stands now.
        return { acquired: false, ...(await this.standing(ref)) };
      }
      return { acquired: false, lease, standing };
    }
  }

  /**
   * Whether this runtime may start a stage of the execution now: it holds the lease, and the store
   * confirmed it recently enough that it cannot expire before the next heartbeat.
   */
  holds(ref: ExecutionRef): boolean {
    const held = this.#held.get(keyOf(ref));
    if (!held) return false;
    return this.#clock().getTime() - held.confirmedAt < this.ttlMs - this.heartbeatMs;
  }

  /**
   * Resolves true once this runtime may start a stage of the execution ({@link holds}), at once or
   * when a heartbeat has renewed its lease; false when the lease is lost or given up, or `signal`
   * aborts first.
   */
  whenHeld(ref: ExecutionRef, signal?: AbortSignal): Promise<boolean> {
    if (this.holds(ref)) return Promise.resolve(true);
    const held = this.#held.get(keyOf(ref));
    if (!held || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const settle = (answer: boolean) => {
        held.waiters.delete(settle);
        signal?.removeEventListener('abort', onAbort);
        resolve(answer);
      };
      const onAbort = () => settle(false);
      held.waiters.add(settle);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Gives up a held lease when its execution is over: `ended` marks it ended (nobody starts the
   * execution again); `stopped` deletes it (its runs are anyone's to resume). Nothing for a lease
   * this runtime does not hold (lost, or never taken). When the store cannot be written, rejects,
   * and the heartbeat keeps the lease and tries again, so no other runtime starts an execution that
   * ended meanwhile.
   */
  async finish(ref: ExecutionRef, outcome: 'ended' | 'stopped'): Promise<void> {
    const key = keyOf(ref);
    const held = this.#held.get(key);
    if (!held) return;
    this.#held.delete(key);
    for (const waiter of [...held.waiters]) waiter(false);
    this.#finishing.set(key, { ref, outcome });
    await this.#writeFinish(key);
  }

  /**
   * One heartbeat: renews every held lease, and loses those another runtime took over; when the store
   * cannot be reached, says which could expire before the next heartbeat (at risk). Runs on its own
   * timer while leases are held; concurrent calls share one beat.
   */
  heartbeat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  async #beat(): Promise<void> {
    if (this.#held.size === 0 && this.#finishing.size === 0) return;
    const asked = this.#registrations;
    const started = this.#clock();
    let renewed: Set<string>;
    try {
      renewed = new Set((await this.#store.renew(this.holder, started, this.ttlMs)).map(keyOf));
    } catch (error) {
      for (const held of this.#held.values()) {
        if (held.registration > asked || held.atRisk) continue;
        const unconfirmedMs = started.getTime() - held.confirmedAt;
        if (unconfirmedMs >= this.ttlMs - this.heartbeatMs) {
          held.atRisk = true;
          this.#tell(held.ref, {
            kind: 'at-risk',
            reason: `its heartbeat has not reached the state store for ${Math.round(unconfirmedMs / 1000)} s (${errorMessage(error)})`,
          });
        }
      }
      this.#failing = {
        since: this.#failing?.since ?? started.getTime(),
        failures: (this.#failing?.failures ?? 0) + 1,
      };
      const failure: HeartbeatFailure = {
        error,
        failures: this.#failing.failures,
        failingForMs: started.getTime() - this.#failing.since,
        held: [...this.#held.values(), ...this.#finishing.values()].map((lease) => lease.ref),
      };
      try {
        this.#onHeartbeatError(failure);
      } catch {
        // A faulty listener must not stop the heartbeat's bookkeeping.
      }
      return;
    }
    this.#failing = undefined;
    for (const [key, held] of this.#held) {
      if (held.registration > asked) continue;
      if (!renewed.has(key)) {
        this.#lose(key, held, 'another runtime took it over after it expired');
        continue;
      }
      held.confirmedAt = started.getTime();
      if (held.atRisk) {
        held.atRisk = false;
        this.#tell(held.ref, { kind: 'renewed' });
      }
      for (const waiter of [...held.waiters]) waiter(true);
    }
    for (const key of [...this.#finishing.keys()]) {
      // Tried again at the next heartbeat.
      await this.#writeFinish(key).catch(() => undefined);
    }
    if (++this.#beats % PRUNE_EVERY_BEATS === 0) {
      // Housekeeping only: a failure here is tried again later.
      await this.#store.prune(new Date(started.getTime() - LEASE_RETENTION_MS)).catch(() => 0);
    }
  }

  #register(ref: ExecutionRef, now: Date): void {
    // Taken again before its end was recorded (resumed here): that end must not be written now.
    this.#finishing.delete(keyOf(ref));
    this.#held.set(keyOf(ref), {
      ref,
      confirmedAt: now.getTime(),
      registration: ++this.#registrations,
      atRisk: false,
      waiters: new Set(),
    });
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.heartbeat().catch(() => undefined), this.heartbeatMs);
      // The executions keep the process alive, not their heartbeat.
      this.#timer.unref();
    }
  }

  async #writeFinish(key: string): Promise<void> {
    const finishing = this.#finishing.get(key);
    if (!finishing) return;
    const { ref, outcome } = finishing;
    // False when another runtime took it over meanwhile: nothing of ours left to record either way.
    if (outcome === 'ended') await this.#store.end(ref, this.holder, this.#clock());
    else await this.#store.release(ref, this.holder);
    this.#finishing.delete(key);
    this.#stopHeartbeatWhenIdle();
  }

  #lose(key: string, held: HeldLease, reason: string): void {
    this.#held.delete(key);
    this.#stopHeartbeatWhenIdle();
    for (const waiter of [...held.waiters]) waiter(false);
    this.#tell(held.ref, { kind: 'lost', reason });
  }

  #tell(ref: ExecutionRef, change: LeaseChange): void {
    try {
      this.#onChange(ref, change);
    } catch {
      // A faulty listener must not stop the heartbeat's bookkeeping.
    }
  }

  #stopHeartbeatWhenIdle(): void {
    if (this.#held.size === 0 && this.#finishing.size === 0) this.#stopHeartbeat();
  }

  #stopHeartbeat(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** One key per execution. */
export function keyOf(ref: ExecutionRef): string {
  return `${ref.jobId}\u0000${ref.executionName}`;
}

function readOr(read: () => string): string | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
