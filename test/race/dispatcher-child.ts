/**
 * One racing dispatcher process of `test/race/dispatchers.test.ts` (run with `node --import tsx`).
 *
 * It plans and dispatches the given chaos jobs against MariaDB in a loop, as the dispatcher Lambda
 * does, with a {@link SharedFileStarter}: a stand-in for Step Functions shared by every process through
 * a directory. Like Step Functions, it is idempotent by name (the first start of a name creates the
 * execution, later starts of that name do nothing) and answers `status` for every process's executions.
 * The process whose start created an execution runs it: it marks each run running and succeeded, as the
 * stage runner does, logs it in a ledger, marks the execution ended and dispatches the job again (the
 * workflow's "Continue dispatch").
 *
 * Environment: `RACE_DSN`, `RACE_DIR`, `RACE_JOBS` (per repetition, a JSON list of chaos job options),
 * `RACE_ROUNDS`, `RACE_MAX_RUNS` (runs per execution). Prints `ready` once connected; then, for each
 * repetition k, waits for `<dir>/r<k>/go`, races, and prints one JSON line of counts ({@link ChildCounts}).
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JobDefinition } from '../../shared/job.ts';
import { dispatch, planScheduled } from '../../shared/planner/index.ts';
import { openMysqlStore } from '../../shared/store/mysql/index.ts';
import type { StateStore } from '../../shared/store/types.ts';
import type { ExecutionInput, ExecutionStatus, WorkflowStarter } from '../../shared/workflow/starter.ts';
import { type ChaosJobOptions, defineChaosJob } from '../../support/chaos-jobs/chaos-upsert.ts';

/** Files of the shared starter, under its directory. */
export const RACE_FILES = {
  /** One JSON line per start call: `{ name, jobId, runs, pid }`. */
  starts: 'starts.log',
  /** One line per run executed: `jobId runId executionName pid`. */
  ledger: 'ledger.log',
  /** `<name>.json`: the input of the execution, created by the one start that created it. */
  executions: 'executions',
  /** `<name>`: the execution has ended. */
  ended: 'ended',
  go: 'go',
} as const;

/** What a child prints at the end. */
export interface ChildCounts {
  readonly pid: number;
  readonly rounds: number;
  readonly planned: number;
  readonly startCalls: number;
  readonly created: number;
  readonly restarted: number;
  readonly executedRuns: number;
  readonly errors: readonly string[];
}

/** Step Functions as a directory: idempotent by name, one status for every process. */
export class SharedFileStarter implements WorkflowStarter {
  startCalls = 0;
  readonly #dir: string;
  readonly #run: (input: ExecutionInput) => void;

  constructor(dir: string, run: (input: ExecutionInput) => void) {
    this.#dir = dir;
    this.#run = run;
    mkdirSync(path.join(dir, RACE_FILES.executions), { recursive: true });
    mkdirSync(path.join(dir, RACE_FILES.ended), { recursive: true });
  }

  async start(input: ExecutionInput): Promise<void> {
    this.startCalls++;
    const line = {
      name: input.executionName,
      jobId: input.jobId,
      runs: input.runs.map((run) => run.runId),
      pid: process.pid,
    };
    appendFileSync(path.join(this.#dir, RACE_FILES.starts), `${JSON.stringify(line)}\n`);
    try {
      // `wx` fails when the file exists: exactly one start of a name creates the execution.
      writeFileSync(this.#file(input.executionName), JSON.stringify(input), { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw error;
    }
    this.#run(input);
  }

  async status(_jobId: string, executionName: string): Promise<ExecutionStatus> {
    if (existsSync(path.join(this.#dir, RACE_FILES.ended, executionName))) return 'ended';
    return existsSync(this.#file(executionName)) ? 'running' : 'absent';
  }

  end(executionName: string): void {
    writeFileSync(path.join(this.#dir, RACE_FILES.ended, executionName), '');
  }

  #file(executionName: string): string {
    return path.join(this.#dir, RACE_FILES.executions, `${executionName}.json`);
  }
}

async function main(): Promise<void> {
  const root = required('RACE_DIR');
  const rounds = Number(process.env.RACE_ROUNDS ?? 30);
  const maxRuns = Number(process.env.RACE_MAX_RUNS ?? 25);
  const repetitions = JSON.parse(required('RACE_JOBS')) as ChaosJobOptions[][];
  const store = await openMysqlStore({ dsn: required('RACE_DSN'), poolSize: 4 });
  await store.migrate();
  console.log('ready');
  for (const [repetition, jobOptions] of repetitions.entries()) {
    const dir = path.join(root, `r${repetition}`);
    const jobs = jobOptions.map((options) => defineChaosJob(options));
    while (!existsSync(path.join(dir, RACE_FILES.go))) await sleep(5);
    const result = await race(store, dir, jobs, rounds, maxRuns);
    console.log(JSON.stringify(result));
  }
  await store.close();
}

/** Plans and dispatches `jobs` for `rounds` rounds, then until no job has work left. */
async function race(
  store: StateStore,
  dir: string,
  jobs: readonly JobDefinition[],
  rounds: number,
  maxRuns: number,
): Promise<ChildCounts> {
  const counts = { planned: 0, created: 0, restarted: 0, executedRuns: 0 };
  const errors: string[] = [];
  const running = new Set<Promise<void>>();
  const dispatchJob = async (job: JobDefinition) => {
    const now = new Date();
    const plan = await planScheduled(store, job, now);
    counts.planned += plan.planned;
    const result = await dispatch(store, job, starter, { maxRunsPerExecution: maxRuns });
    counts.restarted += result.restarted.length;
  };
  const starter: SharedFileStarter = new SharedFileStarter(dir, (input) => {
    counts.created++;
    const execution = execute(store, starter, dir, input, counts)
      .then(() => dispatchJob(jobs.find((job) => job.id === input.jobId)!))
      .catch((error: unknown) => {
        errors.push(String(error));
      });
    running.add(execution);
    void execution.finally(() => running.delete(execution));
  });

  for (let round = 0; round < rounds; round++) {
    for (const job of shuffled(jobs)) {
      try {
        await dispatchJob(job);
      } catch (error) {
        errors.push(String(error));
      }
    }
    await sleep(Math.random() * 15);
  }
  // Drain: go on until no job has work left that this process could take or wait for.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    await Promise.allSettled([...running]);
    let left = 0;
    for (const job of jobs) {
      const runs = await store.countRuns(job.id);
      left += runs.pending + runs.queued + runs.running;
      if (runs.pending + runs.queued + runs.running > 0)
        await dispatchJob(job).catch((error) => errors.push(String(error)));
    }
    if (left === 0 && running.size === 0) break;
    await sleep(20);
  }
  return { pid: process.pid, rounds, ...counts, startCalls: starter.startCalls, errors };
}

/** Runs an execution as the job workflow would: every run marked running, then succeeded, once. */
async function execute(
  store: StateStore,
  starter: SharedFileStarter,
  dir: string,
  input: ExecutionInput,
  counts: { executedRuns: number },
): Promise<void> {
  const queue = [...input.runs];
  // The Map's MaxConcurrency: a few runs at a time.
  const worker = async () => {
    for (let run = queue.shift(); run; run = queue.shift()) {
      const record = await store.markRunning(run.runId, 'main', new Date());
      if (!record) continue; // succeeded already: a duplicate delivery runs nothing
      appendFileSync(
        path.join(dir, RACE_FILES.ledger),
        `${input.jobId} ${run.runId} ${input.executionName} ${process.pid}\n`,
      );
      counts.executedRuns++;
      await store.markSucceeded(run.runId, null, new Date());
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  starter.end(input.executionName);
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  await main();
}
