/**
 * Database fault scenarios, shared by `test/faults/db-faults.test.ts` (one lean case of each) and
 * `bench/db-faults.ts` (the long outage, the default lease, many trials): `piko start --once` catches
 * up the chaos job on MariaDB through a fault-injecting TCP proxy ({@link FaultProxy}) that drops
 * connections (at random moments, and precisely mid-transaction), stalls, refuses new connections,
 * and goes away for longer than an execution lease. Each scenario returns what it saw and the
 * problems it found: the same checks in both places, none of them on times.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RETRY_FIRST_MS } from '../shared/local/backoff.ts';
import type { StateStore } from '../shared/store/types.ts';
import { CHAOS_TABLE, type ChaosJobOptions, defineChaosJob } from './chaos-jobs/chaos-upsert.ts';
import { type FaultProxy, queryStartingWith } from './fault-proxy.ts';
import { type PikoProcess, seededRandom, sleep, spawnPiko } from './piko-process.ts';
import {
  addCheck,
  checkJobState,
  emptyTotals,
  plannedRange,
  plausibleWatermark,
  type StateCheck,
  type StateTotals,
} from './state-checks.ts';

const MINUTE_MS = 60_000;
/** A catch-up that has not exited by then hangs. */
export const FAULT_EXIT_TIMEOUT_MS = 150_000;

/** How hard the scenarios push: `npm test` uses {@link LEAN_FAULTS}, the bench {@link FULL_FAULTS}. */
export interface FaultScale {
  /** Connection drops during the catch-up of `drops`. */
  readonly drops: number;
  /** Stalls of 2.5 s during `stalls`. */
  readonly stalls: number;
  /** How long `outage` keeps the database away. */
  readonly outageMs: number;
  /**
   * `[runtime] lease_seconds` of the child in `outage` (undefined: the default, 30 s). The outage is
   * longer than the lease either way: the heartbeat cannot renew it, the runtime gives the execution
   * up and takes it over once the database answers again.
   */
  readonly outageLeaseSeconds: number | undefined;
  /** `piko.requeue_delay_seconds` of the children of `refusals` and `outage` (undefined: the default, 10 s). */
  readonly requeueDelaySeconds: number | undefined;
}

/**
 * One of each, small: 12 drops (fewer often hit no statement in flight), 1 stall, an outage of 12 s
 * against a lease of 4 s (three leases, and four times the job's whole retry budget of 1 s + 2 s),
 * requeues after 1 s.
 */
export const LEAN_FAULTS: FaultScale = {
  drops: 12,
  stalls: 1,
  outageMs: 12_000,
  outageLeaseSeconds: 4,
  requeueDelaySeconds: 1,
};

/** As `npm test` ran them before: 12 drops, 3 stalls, a 30-second outage on the default lease and requeue delay. */
export const FULL_FAULTS: FaultScale = {
  drops: 12,
  stalls: 3,
  outageMs: 30_000,
  outageLeaseSeconds: undefined,
  requeueDelaySeconds: undefined,
};

/** What one scenario saw. */
export interface FaultOutcome {
  readonly name: string;
  readonly child: PikoProcess;
  readonly check: StateCheck;
  readonly faults: number;
  /** Error events the runtime printed, by name. */
  readonly reported: Record<string, number>;
  /** Runs that were repaired (put back to pending and run again under a new generation). */
  readonly repaired: number;
  readonly executions: number;
  /** Everything wrong: the exit, the watermark, the state check, the scenario's own checks. Empty when all is well. */
  readonly problems: string[];
  readonly durationMs: number;
}

/** Sums over scenarios. */
export interface FaultTotals extends StateTotals {
  faults: number;
  reported: number;
  repaired: number;
  executions: number;
  problems: string[];
}

/** Where the scenarios run: one database (a fresh job per scenario), one proxy in front of it. */
export interface FaultHarnessOptions {
  /** The database's DSN (not through the proxy: the harness rewrites it). */
  readonly dsn: string;
  readonly proxy: FaultProxy;
  /** A store on the database, not through the proxy, for the checks. */
  readonly store: StateStore;
  /** Workflow cache and ledgers. */
  readonly dataDir: string;
  /** Seed of the random fault moments. */
  readonly seed: number;
  /** A line per scenario. @default none */
  readonly log?: (line: string) => void;
}

interface CatchUp {
  readonly intervals: number;
  readonly job?: ChaosJobOptions;
  readonly env?: Record<string, string>;
  /** Misbehaves while the child runs; returns the number of faults injected. */
  readonly inject: (child: PikoProcess) => Promise<number>;
}

/** The scenarios, each a method; every one returns its outcome, problems listed rather than thrown. */
export class FaultHarness {
  readonly totals: FaultTotals = {
    ...emptyTotals(),
    faults: 0,
    reported: 0,
    repaired: 0,
    executions: 0,
    problems: [],
  };
  readonly #options: FaultHarnessOptions;
  readonly #random: () => number;
  #runs = 0;

  constructor(options: FaultHarnessOptions) {
    this.#options = options;
    this.#random = seededRandom(options.seed);
  }

  get #proxy(): FaultProxy {
    return this.#options.proxy;
  }

  /**
   * Every connection dropped again and again (every 150–450 ms) while runs go on, and a stage's start
   * dropped on its way to the server ("SET status = 'running'", running alone).
   */
  async drops(scale: FaultScale): Promise<FaultOutcome> {
    let aloneStartDropped: () => number = () => 0;
    let groupDropped: () => number = () => 0;
    return this.#catchUp('drops', {
      intervals: 300,
      job: { delayMs: [20, 60] },
      inject: async (child) => {
        if (!(await untilRunning(child))) return 0;
        // A timed drop lands wherever the runtime happens to be; most meet a group commit, whose
        // writes then run again alone and succeed, so none need be reported. The check wants the
        // reporting seen: a start running alone is dropped, which its stage attempt reports as
        // failed. Should every start go in groups, the first group with a start is dropped too: its
        // starts then run again alone (triggers are tried in the order armed).
        aloneStartDropped = this.#proxy.failOn({ match: ALONE_START, action: 'drop' });
        groupDropped = this.#proxy.failOn({ match: GROUP_WITH_START, action: 'drop' });
        let drops = 0;
        while (!child.exit && drops < scale.drops) {
          await Promise.race([sleep(150 + this.#random() * 300), child.exited]);
          if (child.exit) break;
          this.#proxy.drop();
          drops++;
        }
        // The start drops fire when the next starts meet the proxy: counted once the run is over.
        await Promise.race([child.exited, sleep(FAULT_EXIT_TIMEOUT_MS)]);
        return drops + aloneStartDropped() + groupDropped();
      },
      check: (outcome) => [
        ...(aloneStartDropped() === 1 ? [] : ['no start running alone was dropped']),
        ...reportedSome(outcome, 'attempt-failed'),
      ],
    });
  }

  /**
   * Connections cut by the statements themselves ('after': the statement ran, its answer is lost):
   * on the planner's row lock, on COMMIT, on every run update, on the sink's upsert. Consecutive
   * failures of one job's planning back off 1 s, 2 s, 4 s …
   */
  async midTransaction(): Promise<FaultOutcome> {
    const proxy = this.#proxy;
    const fired = [
      proxy.failOn({ match: 'FOR UPDATE', action: 'drop' }),
      proxy.failOn({ match: "status = 'queued'", action: 'drop', when: 'after' }),
      proxy.failOn({ match: queryStartingWith('COMMIT'), action: 'drop', when: 'after', times: 2 }),
      proxy.failOn({ match: "SET status = 'running'", action: 'drop', times: 3 }),
      proxy.failOn({ match: "SET status = 'running'", action: 'drop', when: 'after', times: 2 }),
      proxy.failOn({ match: "SET status = 'succeeded'", action: 'drop', when: 'after', times: 3 }),
      proxy.failOn({ match: `INTO \`${CHAOS_TABLE}\``, action: 'drop', times: 3 }),
      proxy.failOn({ match: `INTO \`${CHAOS_TABLE}\``, action: 'drop', when: 'after', times: 2 }),
    ];
    const expected = [1, 1, 2, 3, 2, 3, 3, 2];
    return this.#catchUp('mid_transaction', {
      intervals: 200,
      inject: async (child) => {
        await child.exited;
        return fired.reduce((sum, count) => sum + count(), 0);
      },
      check: (outcome) => {
        const counts = fired.map((count) => count());
        return [
          ...(JSON.stringify(counts) === JSON.stringify(expected)
            ? []
            : [`triggers fired ${JSON.stringify(counts)} times, armed ${JSON.stringify(expected)}`]),
          ...reportedSome(outcome, 'plan-error'),
        ];
      },
    });
  }

  /** The planner's first row lock takes the database away for 6 s: planning is retried after 1 s, 2 s, 4 s … */
  async planningOutage(): Promise<FaultOutcome> {
    const fired = this.#proxy.failOn({ match: 'FOR UPDATE', action: 'outage', outageMs: 6_000 });
    return this.#catchUp('planning_outage', {
      intervals: 150,
      inject: async (child) => {
        await child.exited;
        return fired();
      },
      check: (outcome) => {
        const retries = outcome.child.events
          .filter((event) => event.event === 'plan-error')
          .map((event) => event.retryInMs);
        const expected = [RETRY_FIRST_MS, 2 * RETRY_FIRST_MS, 4 * RETRY_FIRST_MS].slice(0, retries.length);
        return [
          ...(retries.length >= 2
            ? []
            : [`planning was retried ${retries.length} times, expected 2 or more`]),
          ...(JSON.stringify(retries.slice(0, 3)) === JSON.stringify(expected)
            ? []
            : [
                `planning retries waited ${JSON.stringify(retries.slice(0, 3))} ms, expected ${JSON.stringify(expected)}`,
              ]),
        ];
      },
    });
  }

  /** Every byte held for 2.5 s, `scale.stalls` times, while runs go on. */
  async stalls(scale: FaultScale): Promise<FaultOutcome> {
    return this.#catchUp('stalls', {
      intervals: 200,
      job: { delayMs: [20, 60] },
      inject: async (child) => {
        if (!(await untilRunning(child))) return 0;
        let stalls = 0;
        for (let i = 0; i < scale.stalls && !child.exit; i++) {
          await Promise.race([sleep(200 + this.#random() * 300), child.exited]);
          if (child.exit) break;
          this.#proxy.stall(2_500);
          stalls++;
          await sleep(2_500);
        }
        return stalls;
      },
      check: () => [],
    });
  }

  /** New connections accepted and closed for 3 s, then not listened for 3 s (open ones dropped each time). */
  async refusals(scale: FaultScale): Promise<FaultOutcome> {
    return this.#catchUp('refusals', {
      intervals: 300,
      job: { delayMs: [20, 60] },
      env: requeueEnv(scale),
      inject: async (child) => {
        if (!(await untilRunning(child))) return 0;
        let faults = 0;
        for (const listen of [true, false]) {
          if (child.exit) break;
          await this.#proxy.refuse({ listen });
          this.#proxy.drop();
          faults++;
          await sleep(3_000);
          await this.#proxy.restore();
          await Promise.race([sleep(300), child.exited]);
        }
        return faults;
      },
      check: (outcome) => reportedSome(outcome, 'attempt-failed'),
    });
  }

  /**
   * The database gone for `scale.outageMs` in the middle of a catch-up of small executions (so
   * continuations meet it too), longer than the execution lease: the runtime neither exits nor fails
   * runs meanwhile, reports the errors, and recovers by itself.
   */
  async outage(scale: FaultScale): Promise<FaultOutcome> {
    let aliveAfterOutage = false;
    return this.#catchUp(`outage_${scale.outageMs / 1000}s`, {
      intervals: 400,
      job: { delayMs: [20, 60] },
      env: {
        PIKO_MAX_RUNS_PER_EXECUTION: '60',
        ...requeueEnv(scale),
        ...(scale.outageLeaseSeconds === undefined
          ? {}
          : { PIKO_RUNTIME__LEASE_SECONDS: String(scale.outageLeaseSeconds) }),
      },
      inject: async (child) => {
        if (!(await untilRunning(child))) return 0;
        await sleep(700);
        if (child.exit) return 0;
        await this.#proxy.outage();
        await sleep(scale.outageMs);
        aliveAfterOutage = child.exit === undefined;
        await this.#proxy.restore();
        return 1;
      },
      check: (outcome) => [
        ...(aliveAfterOutage ? [] : ['the runtime exited during the outage']),
        ...((outcome.reported.failed ?? 0) === 0 ? [] : [`${outcome.reported.failed} runs failed`]),
        // Which error it meets depends on what was under way when the database went: a stage
        // starting (attempt-failed), a stage that had run (result-held), a planning or a dispatch.
        ...reportedAnyOf(outcome, OUTAGE_REPORTS),
        ...(outcome.check.succeeded === outcome.check.intervals
          ? []
          : [`${outcome.check.succeeded} of ${outcome.check.intervals} intervals succeeded`]),
      ],
    });
  }

  /** The totals as one line. */
  describe(label: string, ms: number): string {
    const totals = this.totals;
    return (
      `${label}: ${totals.trials} scenarios, ${totals.intervals} intervals checked, ${totals.faults} faults injected, ` +
      `${totals.reported} errors reported, ${totals.repaired} runs repaired, ${totals.executions} handler runs, ` +
      `duplicates ${totals.duplicates}, lost ${totals.lost}, not succeeded ${totals.notSucceeded}, ` +
      `problems ${totals.problems.length} in ${(ms / 1000).toFixed(1)} s`
    );
  }

  /** Runs a catch-up of `options.intervals` minutely intervals through the proxy while `inject` misbehaves. */
  async #catchUp(
    name: string,
    options: CatchUp & { readonly check: (outcome: FaultOutcome) => string[] },
  ): Promise<FaultOutcome> {
    const { proxy, store, dataDir, dsn } = this.#options;
    const run = this.#runs++;
    const jobOptions: ChaosJobOptions = {
      id: `fault_${name}_${run}`,
      start: new Date(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - options.intervals * MINUTE_MS),
      ledger: path.join(dataDir, `${name}_${run}.ledger`),
      ...options.job,
    };
    const began = performance.now();
    const earliest = new Date();
    const child = spawnPiko({
      store: { kind: 'mysql', dsn: proxy.rewrite(dsn) },
      dataDir,
      job: jobOptions,
      env: options.env,
    });
    const faults = await options.inject(child);
    const exit = await Promise.race([child.exited, sleep(FAULT_EXIT_TIMEOUT_MS).then(() => undefined)]);
    if (!exit) await child.kill9();
    proxy.clearTriggers();
    await proxy.restore();
    const latest = new Date();
    const problems: string[] = [];
    if (!exit) {
      problems.push(
        `the runtime did not finish within ${FAULT_EXIT_TIMEOUT_MS / 1000} s:\n${child.tail(30)}`,
      );
    } else if (exit.code !== 0 || exit.signal !== null) {
      problems.push(`exited with ${JSON.stringify(exit)}:\n${child.tail(30)}`);
    }

    const job = defineChaosJob(jobOptions);
    const due = await plannedRange(store, job);
    if (!plausibleWatermark(job, due.to, earliest, latest)) {
      problems.push(
        `watermark ${due.to.toISOString()} is not the last tick between ${earliest.toISOString()} and ${latest.toISOString()}`,
      );
    }
    const check = await checkJobState({
      store,
      job,
      due,
      sink: {
        table: CHAOS_TABLE,
        intervalColumn: 'interval_start',
        jobColumn: 'job_id',
        runIdColumn: 'run_id',
      },
    });
    problems.push(...check.problems);
    if (check.duplicates !== 0 || check.lost !== 0 || !check.ok) {
      problems.push(`duplicates ${check.duplicates}, lost ${check.lost}, ok ${check.ok}`);
    }
    const reported: Record<string, number> = {};
    for (const event of [
      'attempt-failed',
      'plan-error',
      'dispatch-error',
      'requeued',
      'restarted',
      'failed',
    ]) {
      const count = child.count(event);
      if (count > 0) reported[event] = count;
    }
    // A stage that ran while the store was away holds its result and records it again (a log line,
    // not an event): counted from the last lines kept, enough to tell that it happened.
    const held = child.otherLines.filter((line) => line.includes(RESULT_HELD_LINE)).length;
    if (held > 0) reported['result-held'] = held;
    const repaired = (await store.listRuns(job.id)).filter((r) => r.generation > 0).length;
    const ledger = jobOptions.ledger!;
    const executions = existsSync(ledger)
      ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean).length
      : 0;
    const outcome: FaultOutcome = {
      name,
      child,
      check,
      faults,
      reported,
      repaired,
      executions,
      problems,
      durationMs: performance.now() - began,
    };
    problems.push(...options.check(outcome));

    const totals = this.totals;
    addCheck(totals, check);
    totals.faults += faults;
    totals.reported += Object.values(reported).reduce((sum, count) => sum + count, 0);
    totals.repaired += repaired;
    totals.executions += executions;
    totals.problems.push(...problems.map((problem) => `${name} (${job.id}): ${problem}`));
    this.#options.log?.(
      `${name}: ${check.intervals} intervals, ${faults} faults, reported ${JSON.stringify(reported)}, ` +
        `${repaired} runs repaired, ${executions} handler runs, max attempts ${check.maxAttempts}, ` +
        `duplicates ${check.duplicates}, lost ${check.lost}${problems.length ? ' FAILED' : ''} (${(outcome.durationMs / 1000).toFixed(1)} s)`,
    );
    return outcome;
  }
}

/**
 * Resolves once runs are going on: the child has recorded its first run succeeded (false: it exited
 * first, or two minutes passed). Not at its first `dispatched`: on a loaded machine the first stage
 * can start seconds after that, and faults injected before it meet no statement at all.
 */
async function untilRunning(child: PikoProcess): Promise<boolean> {
  return (await child.waitFor((event) => event.event === 'succeeded', 120_000)) !== undefined;
}

function reportedSome(outcome: FaultOutcome, event: string): string[] {
  return (outcome.reported[event] ?? 0) > 0 ? [] : [`no ${event} event was reported`];
}

/** A stage's start sent on its own: one statement (a group commit's round trips hold several). */
const ALONE_START = new RegExp(`${queryStartingWith('UPDATE ')}[^;]*SET status = 'running'[^;]*$`);
/** A group commit's round trip with a stage's start in it. */
const GROUP_WITH_START = new RegExp(
  `${queryStartingWith('START TRANSACTION;')}[\\s\\S]*SET status = 'running'`,
);

/** The line the stage runner logs when it records a result again after the store was unavailable. */
const RESULT_HELD_LINE = 'state store unavailable after the stage ran';

/** What an outage in the middle of a catch-up is reported as (at least one of them). */
export const OUTAGE_REPORTS = ['attempt-failed', 'result-held', 'plan-error', 'dispatch-error'] as const;

function reportedAnyOf(outcome: FaultOutcome, events: readonly string[]): string[] {
  return events.some((event) => (outcome.reported[event] ?? 0) > 0)
    ? []
    : [`none of ${events.join(', ')} was reported`];
}

function requeueEnv(scale: FaultScale): Record<string, string> {
  return scale.requeueDelaySeconds === undefined
    ? {}
    : { PIKO_REQUEUE_DELAY_SECONDS: String(scale.requeueDelaySeconds) };
}
