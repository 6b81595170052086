/**
 * Crash trials, shared by `test/chaos/crash.test.ts` and `bench/chaos.ts`: a `piko start --once` child
 * catches up a job of a few hundred minutely intervals, is killed with SIGKILL at random moments, is
 * started again until one run exits 0, and then the state and sink tables are checked.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openMysqlStore } from '../shared/store/mysql/index.ts';
import { openSqliteStore } from '../shared/store/sqlite.ts';
import type { StateStore } from '../shared/store/types.ts';
import { CHAOS_TABLE, defineChaosJob } from './chaos-jobs/chaos-upsert.ts';
import { type ChildStore, type PikoProcess, seededRandom, sleep, spawnPiko } from './piko-process.ts';
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
/** A trial that needs more processes than this is a failure (the runtime does not converge). */
const MAX_PROCESSES = 12;
/** A process still running after this long hangs (a catch-up takes a few seconds). */
const PROCESS_TIMEOUT_MS = 90_000;

/** Where a kill landed, judged from the progress the child had printed. */
export type KillPhase = 'boot' | 'planning' | 'running' | 'exiting';

export interface CrashSuiteOptions {
  /** `mysql` (one database for every trial, a fresh job id per trial) or `sqlite` (a fresh file per trial). */
  readonly store: { readonly kind: 'mysql'; readonly dsn: string } | { readonly kind: 'sqlite' };
  /** Workflow cache and SQLite files. */
  readonly dataDir: string;
  readonly seed: number;
  /** Due intervals per trial, drawn uniformly. @default [100, 200] */
  readonly intervals?: readonly [number, number];
  /** Kills per trial, drawn uniformly. @default [1, 3] */
  readonly kills?: readonly [number, number];
  /** Prefix of the job ids (`<prefix>_<trial>`). @default 'chaos' */
  readonly jobPrefix?: string;
  /** A line per trial. @default none */
  readonly log?: (line: string) => void;
}

/**
 * Where a scripted kill lands: `boot` (0.3 s after the spawn, before the runtime prints anything),
 * `planning` (as soon as it printed `started` or `planned`: planning, or between a planning and its
 * dispatch), `running` (once `succeeded` of this process reach `fraction` of the intervals it has
 * left), `exiting` (once it printed `stopped`).
 */
export type KillAt =
  | { readonly at: 'boot' }
  | { readonly at: 'planning' }
  | { readonly at: 'running'; readonly fraction: number }
  | { readonly at: 'exiting' };

/** A trial told exactly, instead of drawn from the seed: `npm test` runs a few, one per kind of kill. */
export interface TrialPlan {
  readonly intervals: number;
  /** Plans of this many intervals and executions of this many runs (both small: several of each). @default one of each */
  readonly small?: { readonly maxIntervalsPerDispatch: number; readonly maxRunsPerExecution: number };
  /** One per process, in order; the process after the last kill runs to its end. */
  readonly kills: readonly KillAt[];
}

/** One trial's outcome. */
export interface TrialResult {
  readonly trial: number;
  readonly jobId: string;
  readonly check: StateCheck;
  readonly kills: number;
  readonly killPhases: readonly KillPhase[];
  readonly processes: number;
  /** Handler executions counted by the ledger (at least one per interval; more when a kill interrupted a run). */
  readonly executions: number;
  /** Problems outside the state check: unexpected exit codes, an implausible watermark. */
  readonly errors: readonly string[];
  readonly durationMs: number;
}

/** Everything the trials found. */
export interface CrashTotals extends StateTotals {
  kills: number;
  /** Kills planned that came too late: the process had exited. */
  missedKills: number;
  processes: number;
  executions: number;
  killPhases: Record<KillPhase, number>;
  errors: string[];
}

/** Runs crash trials one after another on one store; call {@link CrashSuite.close} at the end. */
export class CrashSuite {
  readonly totals: CrashTotals = {
    ...emptyTotals(),
    kills: 0,
    missedKills: 0,
    processes: 0,
    executions: 0,
    killPhases: { boot: 0, planning: 0, running: 0, exiting: 0 },
    errors: [],
  };
  readonly #options: CrashSuiteOptions;
  readonly #random: () => number;
  #mysqlStore: StateStore | undefined;
  /** Estimates, updated from every run that completed: spawn to exit, and first dispatch to exit. */
  #typicalMs = 2_000;

  constructor(options: CrashSuiteOptions) {
    this.#options = options;
    this.#random = seededRandom(options.seed);
  }

  /**
   * Runs trial number `trial` (0-based; part of the job id and the SQLite file name): as `plan` says,
   * or with its size and kills drawn from the seed.
   */
  async run(trial: number, plan?: TrialPlan): Promise<TrialResult> {
    const options = this.#options;
    const began = Date.now();
    const [minIntervals, maxIntervals] = options.intervals ?? [100, 200];
    const [minKills, maxKills] = options.kills ?? [1, 3];
    const intervals = plan ? plan.intervals : this.#int(minIntervals, maxIntervals);
    const plannedKills = plan ? plan.kills.length : this.#int(minKills, maxKills);
    const jobId = `${options.jobPrefix ?? 'chaos'}_${trial}`;
    const start = new Date(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - intervals * MINUTE_MS);
    const ledger = path.join(options.dataDir, `${jobId}.ledger`);
    const sqliteFile = path.join(options.dataDir, `${jobId}.db`);
    const store: ChildStore =
      options.store.kind === 'mysql'
        ? { kind: 'mysql', dsn: options.store.dsn }
        : { kind: 'sqlite', file: sqliteFile };
    // Some trials plan in several transactions and run in several executions, so kills also land
    // between two plannings and between an execution and the dispatch that goes on after it.
    const small = plan
      ? plan.small
      : this.#random() < 0.5
        ? { maxIntervalsPerDispatch: this.#int(30, 80), maxRunsPerExecution: this.#int(20, 60) }
        : undefined;
    const jobOptions = {
      id: jobId,
      start,
      ledger,
      maxIntervalsPerDispatch: small?.maxIntervalsPerDispatch,
    };
    const env = small ? { PIKO_MAX_RUNS_PER_EXECUTION: String(small.maxRunsPerExecution) } : undefined;

    const errors: string[] = [];
    const killPhases: KillPhase[] = [];
    let processes = 0;
    let succeededEvents = 0;
    let earliest = new Date();
    let latest = new Date();
    let last: PikoProcess | undefined;
    for (;;) {
      if (processes >= MAX_PROCESSES) {
        errors.push(`no run exited 0 after ${processes} processes:\n${last?.tail() ?? ''}`);
        break;
      }
      earliest = new Date();
      const child = spawnPiko({ store, dataDir: options.dataDir, job: jobOptions, env });
      processes++;
      last = child;
      const scripted = plan?.kills[processes - 1];
      const killing = scripted
        ? this.#killAt(child, scripted, intervals - succeededEvents)
        : !plan && killPhases.length < plannedKills
          ? this.#killAtRandom(child, intervals - succeededEvents)
          : undefined;
      const exit = await Promise.race([child.exited, sleep(PROCESS_TIMEOUT_MS).then(() => undefined)]);
      if (!exit) {
        errors.push(
          `process ${processes} hung: still running after ${PROCESS_TIMEOUT_MS / 1000} s:\n${child.tail()}`,
        );
        await child.kill9();
        break;
      }
      latest = new Date();
      const phase = await killing;
      succeededEvents += child.count('succeeded');
      if (exit.signal === 'SIGKILL') {
        killPhases.push(phase ?? 'exiting');
        continue;
      }
      if (exit.code === 0) {
        this.#learn(child);
        break;
      }
      errors.push(
        `process ${processes} exited with ${exit.signal ?? `code ${exit.code}`} without being killed:\n${child.tail()}`,
      );
    }

    const job = defineChaosJob(jobOptions);
    const check = await this.#withStore(sqliteFile, async (opened) => {
      const due = await plannedRange(opened, job);
      if (!plausibleWatermark(job, due.to, earliest, latest)) {
        errors.push(
          `watermark ${due.to.toISOString()} is not the last tick between ${earliest.toISOString()} and ${latest.toISOString()}`,
        );
      }
      return checkJobState({
        store: opened,
        job,
        due,
        restarts: processes - 1,
        sink: {
          table: CHAOS_TABLE,
          intervalColumn: 'interval_start',
          jobColumn: 'job_id',
          runIdColumn: 'run_id',
        },
      });
    });
    const executions = existsSync(ledger)
      ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean).length
      : 0;

    const result: TrialResult = {
      trial,
      jobId,
      check,
      kills: killPhases.length,
      killPhases,
      processes,
      executions,
      errors,
      durationMs: Date.now() - began,
    };
    this.#add(result);
    options.log?.(
      `trial ${trial}: ${check.intervals} intervals${small ? ` (plans of ${small.maxIntervalsPerDispatch}, executions of ${small.maxRunsPerExecution})` : ''}, ${result.kills} kills (${killPhases.join(', ') || '-'}), ` +
        `${processes} processes, ${executions} handler runs, max attempts ${check.maxAttempts}, ` +
        `duplicates ${check.duplicates}, lost ${check.lost}${check.ok && errors.length === 0 ? '' : ' FAILED'} (${result.durationMs} ms)`,
    );
    return result;
  }

  /** Closes the MySQL store used for the checks. */
  async close(): Promise<void> {
    await this.#mysqlStore?.close();
    this.#mysqlStore = undefined;
  }

  /**
   * Kills the child at a random moment: after a random delay between 0.3 s and the typical run time
   * (35%), after a random number of the intervals it has left succeeded (55%: these always land while it
   * runs), or while it shuts down (10%). Resolves with where the kill landed, or undefined when the
   * child exited first.
   */
  async #killAtRandom(child: PikoProcess, remaining: number): Promise<KillPhase | undefined> {
    const mode = this.#random();
    if (mode < 0.35) {
      await Promise.race([sleep(300 + this.#random() * Math.max(0, this.#typicalMs - 300)), child.exited]);
    } else if (mode < 0.9) {
      const target = Math.floor(this.#random() * Math.max(1, remaining));
      await child.waitUntil(() => child.count('succeeded') >= target, 120_000);
      await Promise.race([sleep(this.#random() * 10), child.exited]);
    } else {
      await child.waitFor((event) => event.event === 'stopped', 120_000);
    }
    if (child.exit) {
      this.totals.missedKills++;
      return undefined;
    }
    const phase = phaseOf(child);
    await child.kill9();
    return phase;
  }

  /** Kills the child where `kill` says; resolves with where the kill landed, or undefined when the child exited first. */
  async #killAt(child: PikoProcess, kill: KillAt, remaining: number): Promise<KillPhase | undefined> {
    if (kill.at === 'boot') {
      await Promise.race([sleep(300), child.exited]);
    } else if (kill.at === 'planning') {
      await child.waitFor((event) => event.event === 'started' || event.event === 'planned', 120_000);
    } else if (kill.at === 'running') {
      const target = Math.max(1, Math.floor(kill.fraction * remaining));
      await child.waitUntil(() => child.count('succeeded') >= target, 120_000);
    } else {
      await child.waitFor((event) => event.event === 'stopped', 120_000);
    }
    if (child.exit) {
      this.totals.missedKills++;
      return undefined;
    }
    const phase = phaseOf(child);
    await child.kill9();
    return phase;
  }

  #learn(child: PikoProcess): void {
    // Only a process that ran the whole catch-up tells the typical run time.
    if (child.count('succeeded') < 50) return;
    this.#typicalMs = Math.round(0.7 * this.#typicalMs + 0.3 * (Date.now() - child.spawnedAt));
  }

  async #withStore<T>(sqliteFile: string, work: (store: StateStore) => Promise<T>): Promise<T> {
    if (this.#options.store.kind === 'mysql') {
      this.#mysqlStore ??= await openMysqlStore({ dsn: this.#options.store.dsn, poolSize: 2 });
      return work(this.#mysqlStore);
    }
    const store = await openSqliteStore({ file: sqliteFile });
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  }

  #add(result: TrialResult): void {
    const totals = this.totals;
    addCheck(totals, result.check);
    totals.kills += result.kills;
    totals.processes += result.processes;
    totals.executions += result.executions;
    for (const phase of result.killPhases) totals.killPhases[phase]++;
    for (const error of result.errors)
      totals.errors.push(`trial ${result.trial} (${result.jobId}): ${error}`);
    if (!result.check.ok) {
      totals.errors.push(`trial ${result.trial} (${result.jobId}): ${result.check.problems.join('; ')}`);
    }
  }

  #int(min: number, max: number): number {
    return min + Math.floor(this.#random() * (max - min + 1));
  }
}

function phaseOf(child: PikoProcess): KillPhase {
  if (child.count('stopped') > 0) return 'exiting';
  if (child.count('dispatched') > 0 || child.count('restarted') > 0) return 'running';
  if (child.count('started') > 0) return 'planning';
  return 'boot';
}

/** One line of totals, as the suites print them. */
export function describeTotals(label: string, totals: CrashTotals, ms: number): string {
  const phases = Object.entries(totals.killPhases)
    .map(([phase, count]) => `${phase} ${count}`)
    .join(', ');
  return (
    `${label}: ${totals.trials} trials, ${totals.intervals} intervals checked, ${totals.kills} kills (${phases}; ${totals.missedKills} came after the exit), ` +
    `${totals.processes} processes, ${totals.executions} handler runs (${totals.executions - totals.intervals} repeated after kills), ` +
    `max attempts ${totals.maxAttempts}, duplicates ${totals.duplicates}, lost ${totals.lost}, ` +
    `not succeeded ${totals.notSucceeded}, unexpected runs ${totals.unexpected}, bad attempts ${totals.badAttempts}, ` +
    `errors ${totals.errors.length} in ${(ms / 1000).toFixed(1)} s`
  );
}
