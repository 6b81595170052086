import { appendFileSync } from 'node:fs';
import { defineJob, type JobDefinition } from '../../shared/job.ts';

const DAY_MS = 86_400_000;

/** What varies between races; handed to `piko start` children as `PIKO_TEST_RACE_*` variables. */
export interface RecordingJobOptions {
  /** @default 'racing_job' */
  readonly id?: string;
  /** @default '0 0 * * *' (daily, UTC: a race never sees a new interval fall due unless it spans midnight) */
  readonly cron?: string;
  /** The first interval's start, a tick of `cron`. @default 300 days before today, 00:00 UTC */
  readonly start?: string | Date;
  /**
   * A file that gets two lines per handler execution, appended whole (`appendFileSync`):
   * `B <job> <interval start> <pid> <run id> <attempt>` as it begins, `E …` with the same fields as it ends.
   * @default none
   */
  readonly ledger?: string;
  /** Handler duration range in ms. @default [20, 60] */
  readonly delayMs?: readonly [number, number];
  /** @default 5 */
  readonly concurrency?: number;
}

/**
 * The racing job: daily by default, no sink; each handler execution is recorded in the ledger as it begins and
 * as it ends, with the process that ran it, so a race can count executions per interval and tell
 * which ones a `kill -9` interrupted.
 */
export function defineRecordingJob(options: RecordingJobOptions = {}): JobDefinition {
  const [minDelay, maxDelay] = options.delayMs ?? [20, 60];
  const ledger = options.ledger;
  return defineJob({
    id: options.id ?? 'racing_job',
    description: 'racing fixture: records each handler execution in a ledger file',
    schedule: { cron: options.cron ?? '0 0 * * *' },
    start: options.start ?? new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - 300 * DAY_MS),
    concurrency: options.concurrency ?? 5,
    retry: { attempts: 3, backoff: '1s', rate: 2 },
    timeout: '1m',
    handler: async (ctx) => {
      const fields = `${ctx.jobId} ${ctx.interval.start.toISOString()} ${process.pid} ${ctx.runId} ${ctx.attempt}`;
      if (ledger) appendFileSync(ledger, `B ${fields}\n`);
      const delay = minDelay + Math.floor(Math.random() * (maxDelay - minDelay + 1));
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (ledger) appendFileSync(ledger, `E ${fields}\n`);
      return { delay };
    },
  });
}

/** The options a child reads from its environment (`PIKO_TEST_` variables are not Piko configuration). */
export function recordingJobOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): RecordingJobOptions {
  const delay = env.PIKO_TEST_RACE_DELAY_MS?.split('-').map(Number);
  return {
    id: env.PIKO_TEST_RACE_JOB_ID || undefined,
    cron: env.PIKO_TEST_RACE_CRON || undefined,
    start: env.PIKO_TEST_RACE_START || undefined,
    ledger: env.PIKO_TEST_RACE_LEDGER || undefined,
    delayMs: delay?.length === 2 ? [delay[0]!, delay[1]!] : undefined,
    concurrency: env.PIKO_TEST_RACE_CONCURRENCY ? Number(env.PIKO_TEST_RACE_CONCURRENCY) : undefined,
  };
}

/** The variables that give a child the job `options` describes. */
export function recordingJobEnv(options: RecordingJobOptions): Record<string, string> {
  const env: Record<string, string> = {};
  if (options.id) env.PIKO_TEST_RACE_JOB_ID = options.id;
  if (options.cron) env.PIKO_TEST_RACE_CRON = options.cron;
  if (options.start) env.PIKO_TEST_RACE_START = new Date(options.start).toISOString();
  if (options.ledger) env.PIKO_TEST_RACE_LEDGER = options.ledger;
  if (options.delayMs) env.PIKO_TEST_RACE_DELAY_MS = options.delayMs.join('-');
  if (options.concurrency) env.PIKO_TEST_RACE_CONCURRENCY = String(options.concurrency);
  return env;
}

/** The racing job as the environment configures it. */
export const recordingJob = defineRecordingJob(recordingJobOptionsFromEnv());
