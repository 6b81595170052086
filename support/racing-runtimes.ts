/**
 * Racing runtimes (issue 10, item 3): N `piko start --once` processes on one state store (a MariaDB
 * database or a SQLite file) catch up one job of many due intervals at the same time; some are
 * killed with `kill -9` mid-way and started again. Each handler execution is recorded in a ledger
 * (`support/racing-jobs`), so the race can count executions per interval and tell a repeat caused by
 * a kill (an interval whose handler was running in the killed process) from a real duplicate.
 *
 * Shared by `test/race/racing-runtimes.test.ts` (small) and `bench/racing-runtimes.ts` (N = 2, 4, 8).
 */
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { openStore } from '../shared/store/local.ts';
import type { StateStore } from '../shared/store/types.ts';
import {
  type ChildStore,
  type PikoProcess,
  REPO_ROOT,
  seededRandom,
  sleep,
  spawnPiko,
} from './piko-process.ts';
import { recordingJobEnv } from './racing-jobs/recording-job.ts';

const JOBS_DIR = path.join(REPO_ROOT, 'support/racing-jobs');
const DAY_MS = 86_400_000;
/** How often the ledger is read while the race runs. */
const LEDGER_POLL_MS = 10;

/** The store the processes share. */
export type RaceStore = ChildStore;

/** Options of {@link raceRuntimes}. */
export interface RaceOptions {
  readonly store: RaceStore;
  /** Rendered workflows and the ledger. */
  readonly dataDir: string;
  /** Processes started at once. */
  readonly processes: number;
  /** Due intervals (days back from today, 00:00 UTC). */
  readonly intervals: number;
  /** Processes killed with `kill -9` (and started again), spread over the race. @default 0 */
  readonly kills?: number;
  /** Seed of the kill moments and victims. @default 1 */
  readonly seed?: number;
  /** The job id (fresh per race in a shared database). @default 'racing_job' */
  readonly jobId?: string;
  /** Handler duration range in ms. @default [20, 60] */
  readonly delayMs?: readonly [number, number];
  /** Intervals running at once per execution (the job's concurrency). @default 5 */
  readonly concurrency?: number;
  /** `PIKO_MAX_RUNS_PER_EXECUTION`: small batches hand work from one execution to the next. @default 25 */
  readonly maxRunsPerExecution?: number;
  /**
   * Start one process first and the others once it runs its first handler (a runtime started while
   * another drains). @default false: all at once
   */
  readonly staggered?: boolean;
  /** Longest the whole race may take. @default 300000 */
  readonly timeoutMs?: number;
  /** More environment for every process. */
  readonly env?: Readonly<Record<string, string>>;
  /** A line per notable moment. @default nothing */
  readonly log?: (line: string) => void;
}

/** One `kill -9` and what it interrupted. */
export interface RaceKill {
  readonly pid: number;
  /** Intervals whose handler was running in that process when it was killed (begun, not yet recorded succeeded). */
  readonly inFlight: readonly string[];
  /** Of those, the ones another process ran again. */
  readonly repeated: readonly string[];
}

/** What a race found. */
export interface RaceResult {
  readonly processes: number;
  readonly intervals: number;
  /** Handler executions (ledger begin lines). */
  readonly handlerRuns: number;
  /** Executions beyond one per interval that no kill explains: must be 0. */
  readonly duplicates: number;
  /** Executions repeated because the process running them was killed (each in its {@link RaceKill.inFlight}). */
  readonly duplicatesAfterKill: number;
  /** Due intervals without exactly one succeeded run, or never executed: must be 0. */
  readonly lost: number;
  /** How many intervals had 1, 2, … handler executions. */
  readonly executionsPerInterval: Readonly<Record<number, number>>;
  readonly kills: readonly RaceKill[];
  /** Processes started in all (restarts included). */
  readonly started: number;
  /** Everything that is not as it should be (duplicates, lost intervals, bad exits, a timeout). */
  readonly problems: readonly string[];
  readonly durationMs: number;
  readonly ok: boolean;
}

interface Execution {
  readonly pid: number;
  readonly line: number;
}

/** The ledger, read as it grows. */
class Ledger {
  /** Begin lines by interval start, in ledger order. */
  readonly begins = new Map<string, Execution[]>();
  /** Open handlers by pid: interval starts begun and not ended. */
  readonly open = new Map<number, Set<string>>();
  lines = 0;
  #offset = 0;
  #partial = '';
  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
  }

  get handlerRuns(): number {
    let count = 0;
    for (const list of this.begins.values()) count += list.length;
    return count;
  }

  /** Reads what was appended since the last call. */
  async read(): Promise<void> {
    if (!existsSync(this.#file)) return;
    const handle = await open(this.#file, 'r');
    try {
      for (;;) {
        const buffer = Buffer.alloc(65_536);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.#offset);
        if (bytesRead === 0) break;
        this.#offset += bytesRead;
        const text = this.#partial + buffer.subarray(0, bytesRead).toString('utf8');
        const lines = text.split('\n');
        this.#partial = lines.pop() ?? '';
        for (const line of lines) this.#add(line);
      }
    } finally {
      await handle.close();
    }
  }

  /** Pids of processes running a handler now, per the ledger. */
  busy(): number[] {
    return [...this.open].filter(([, starts]) => starts.size > 0).map(([pid]) => pid);
  }

  /** Interval starts `pid` has begun. */
  begunBy(pid: number): Set<string> {
    const starts = new Set<string>();
    for (const [start, list] of this.begins)
      if (list.some((execution) => execution.pid === pid)) starts.add(start);
    return starts;
  }

  #add(line: string): void {
    const [kind, , start, pidText] = line.split(' ');
    if (!start || !pidText) return;
    const pid = Number(pidText);
    this.lines++;
    const open = this.open.get(pid) ?? new Set<string>();
    this.open.set(pid, open);
    if (kind === 'B') {
      const list = this.begins.get(start) ?? [];
      list.push({ pid, line: this.lines });
      this.begins.set(start, list);
      open.add(start);
    } else if (kind === 'E') {
      open.delete(start);
    }
  }
}

/** A `piko start --once --json` child of the race. */
interface Runner {
  readonly process: PikoProcess;
  readonly pid: number;
  killed: boolean;
}

/**
 * Runs one race and checks it: every due interval has exactly one run, succeeded; every interval's
 * handler ran once, except that an interval whose handler was running in a killed process may have
 * run again elsewhere (counted in `duplicatesAfterKill`, and only for intervals that killed process
 * was running); every process not killed exited 0.
 */
export async function raceRuntimes(options: RaceOptions): Promise<RaceResult> {
  const began = Date.now();
  const log = options.log ?? (() => {});
  const jobId = options.jobId ?? 'racing_job';
  const ledgerFile = path.join(options.dataDir, `${jobId}.ledger`);
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const start = new Date(today - options.intervals * DAY_MS);
  const expected = Array.from({ length: options.intervals }, (_, i) =>
    new Date(start.getTime() + i * DAY_MS).toISOString(),
  );
  const random = seededRandom(options.seed ?? 1);
  const problems: string[] = [];
  const env = {
    PIKO_JOBS_DIR: JOBS_DIR,
    PIKO_LOG_LEVEL: 'warn',
    PIKO_MAX_RUNS_PER_EXECUTION: String(options.maxRunsPerExecution ?? 25),
    ...recordingJobEnv({
      id: jobId,
      start,
      ledger: ledgerFile,
      delayMs: options.delayMs,
      concurrency: options.concurrency ?? 5,
    }),
    ...options.env,
  };

  // The schema first, so that the processes race on the work, not on creating the database.
  const store = await openRaceStore(options.store);
  const ledger = new Ledger(ledgerFile);
  const runners: Runner[] = [];
  const kills: { pid: number; inFlight: Set<string> }[] = [];
  let timedOut = false;
  try {
    await store.migrate();
    const spawnRunner = (): Runner => {
      // The racing job's folder and variables replace the chaos job's (`env` comes last).
      const child = spawnPiko({ store: options.store, dataDir: options.dataDir, job: {}, env });
      const runner: Runner = { process: child, pid: child.child.pid ?? -1, killed: false };
      runners.push(runner);
      log(`started pid ${runner.pid}`);
      return runner;
    };
    const alive = () => runners.filter((runner) => !runner.killed && runner.process.exit === undefined);

    const deadline = began + (options.timeoutMs ?? 300_000);
    const pollUntil = async (done: () => boolean): Promise<boolean> => {
      for (;;) {
        await ledger.read();
        if (done()) return true;
        if (alive().length === 0 || Date.now() > deadline) return false;
        await sleep(LEDGER_POLL_MS);
      }
    };

    if (options.staggered) {
      spawnRunner();
      await pollUntil(() => ledger.lines > 0);
      for (let i = 1; i < options.processes; i++) spawnRunner();
    } else {
      for (let i = 0; i < options.processes; i++) spawnRunner();
    }

    // Kill moments: after a share of the intervals has begun, spread over the middle of the race.
    const marks = Array.from({ length: options.kills ?? 0 }, () =>
      Math.floor(options.intervals * (0.15 + 0.6 * random())),
    ).sort((a, b) => a - b);
    for (const mark of marks) {
      if (!(await pollUntil(() => ledger.begins.size >= mark))) break;
      const candidates = alive();
      const busy = new Set(ledger.busy());
      const running = candidates.filter((runner) => busy.has(runner.pid));
      const pool = running.length > 0 ? running : candidates;
      const victim = pool[Math.floor(random() * pool.length)];
      if (!victim) break;
      // What the victim was running: intervals it began whose run has not been recorded succeeded.
      const succeeded = new Set(
        (await store.listRuns(jobId))
          .filter((run) => run.status === 'succeeded')
          .map((run) => run.interval.start.toISOString()),
      );
      await ledger.read();
      const linesBefore = ledger.lines;
      victim.killed = true;
      await victim.process.kill9();
      await ledger.read();
      const inFlight = new Set([...ledger.begunBy(victim.pid)].filter((start) => !succeeded.has(start)));
      kills.push({ pid: victim.pid, inFlight });
      log(
        `killed pid ${victim.pid} (kill -9) after ${mark} intervals began (ledger line ${linesBefore}): ${inFlight.size} of its intervals were in flight`,
      );
      spawnRunner();
    }

    // Every process ends by itself once nothing is left (piko start --once).
    for (;;) {
      const running = alive();
      if (running.length === 0) break;
      if (Date.now() > deadline) {
        timedOut = true;
        problems.push(
          `timed out after ${Math.round((Date.now() - began) / 1000)} s with ${running.length} processes still running; ` +
            `last lines of pid ${running[0]!.pid}:\n${running[0]!.process.tail()}`,
        );
        await Promise.all(running.map((runner) => runner.process.kill9()));
        break;
      }
      await Promise.race([...running.map((runner) => runner.process.exited), sleep(1_000)]);
    }
    for (const runner of runners) {
      if (runner.killed) continue;
      const exit = await runner.process.exited;
      if (exit.code !== 0 && !timedOut) {
        problems.push(
          `pid ${runner.pid} exited with ${exit.signal ?? `code ${exit.code}`}:\n${runner.process.tail()}`,
        );
      }
    }
    await ledger.read();

    // The state: one succeeded run per due interval, nothing else.
    const runs = await store.listRuns(jobId);
    const runsByStart = new Map<string, number>();
    const succeededStarts = new Set<string>();
    for (const run of runs) {
      const key = run.interval.start.toISOString();
      runsByStart.set(key, (runsByStart.get(key) ?? 0) + 1);
      if (run.status === 'succeeded') succeededStarts.add(key);
    }
    const expectedSet = new Set(expected);
    const unexpected = runs.filter((run) => !expectedSet.has(run.interval.start.toISOString()));
    if (unexpected.length > 0) {
      problems.push(
        `${unexpected.length} runs of intervals that were not due, first ${unexpected[0]!.interval.start.toISOString()}`,
      );
    }

    // The ledger: executions per interval, each repeat explained by a kill or counted as a duplicate.
    const killedInFlight = new Map(kills.map((kill) => [kill.pid, kill.inFlight]));
    const repeatedByKill = new Map<number, string[]>();
    const histogram: Record<number, number> = {};
    let duplicates = 0;
    let duplicatesAfterKill = 0;
    let lost = 0;
    for (const interval of expected) {
      const executions = ledger.begins.get(interval) ?? [];
      histogram[executions.length] = (histogram[executions.length] ?? 0) + 1;
      if (executions.length === 0 || !succeededStarts.has(interval) || runsByStart.get(interval) !== 1) {
        lost++;
        if (lost <= 10) {
          problems.push(
            `lost: ${interval} ran ${executions.length} times, has ${runsByStart.get(interval) ?? 0} runs, ${succeededStarts.has(interval) ? '' : 'none '}succeeded`,
          );
        }
      }
      // Every execution but the last must have died with a killed process that was running it.
      for (const execution of executions.slice(0, -1)) {
        if (killedInFlight.get(execution.pid)?.has(interval)) {
          duplicatesAfterKill++;
          const list = repeatedByKill.get(execution.pid) ?? [];
          list.push(interval);
          repeatedByKill.set(execution.pid, list);
        } else {
          duplicates++;
          if (duplicates <= 10) {
            problems.push(
              `duplicate: ${interval} ran ${executions.length} times (pids ${executions.map((e) => e.pid).join(', ')}); pid ${execution.pid} was ${killedInFlight.has(execution.pid) ? 'killed, but was not running it' : 'not killed'}`,
            );
          }
        }
      }
    }
    if (duplicates > 10) problems.push(`… ${duplicates} duplicates in all`);
    if (lost > 10) problems.push(`… ${lost} lost in all`);

    const result: RaceResult = {
      processes: options.processes,
      intervals: expected.length,
      handlerRuns: ledger.handlerRuns,
      duplicates,
      duplicatesAfterKill,
      lost,
      executionsPerInterval: histogram,
      kills: kills.map((kill) => ({
        pid: kill.pid,
        inFlight: [...kill.inFlight].sort(),
        repeated: (repeatedByKill.get(kill.pid) ?? []).sort(),
      })),
      started: runners.length,
      problems,
      durationMs: Date.now() - began,
      ok: problems.length === 0,
    };
    return result;
  } finally {
    await Promise.all(runners.map((runner) => runner.process.kill9()));
    await store.close();
  }
}

/** One line per race, as the test and the bench print it. */
export function describeRace(label: string, result: RaceResult): string {
  const perInterval = Object.entries(result.executionsPerInterval)
    .map(([executions, intervals]) => `${intervals} × ${executions}`)
    .join(', ');
  const kills = result.kills
    .map((kill) => `pid ${kill.pid}: ${kill.inFlight.length} in flight, ${kill.repeated.length} repeated`)
    .join('; ');
  return (
    `${label}: ${result.processes} processes (${result.started} started in all), ${result.intervals} intervals, ` +
    `${result.handlerRuns} handler runs; executions per interval: ${perInterval}; duplicates ${result.duplicates}, ` +
    `after kill ${result.duplicatesAfterKill}${kills ? ` (${kills})` : ''}, lost ${result.lost} ` +
    `in ${(result.durationMs / 1000).toFixed(1)} s${result.ok ? '' : ' FAILED'}`
  );
}

async function openRaceStore(store: RaceStore): Promise<StateStore> {
  return store.kind === 'mysql'
    ? openStore({ mysqlDsn: store.dsn, poolSize: 2 })
    : openStore({ sqliteFile: store.file });
}
