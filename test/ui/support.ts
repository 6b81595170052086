/**
 * Helpers of the web UI tests: state seeded through the StateStore (as the runtime writes it),
 * `piko ui` / `piko start` in a child process under faketime, and headless Chromium driven by
 * playwright-core with a fresh profile.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import type { Interval } from '../../shared/interval.ts';
import type { JobDefinition } from '../../shared/job.ts';
import type { RunRecord, RunTrigger, StateStore } from '../../shared/store/types.ts';
import { type PikoProcess, ROOT, startPiko, waitFor } from '../e2e/support.ts';

/** The UI tests' jobs: the examples and a gated one. */
export const UI_JOBS_DIR = path.join(ROOT, 'test', 'fixtures', 'ui-jobs');
/** Where tests write screenshots (git-ignored). */
export const SCREENSHOT_DIR = path.join(ROOT, 'test', 'ui', 'screenshots');
/** Debian's Chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** What a seeded run ends as. */
export interface SeededRun {
  readonly interval: Interval;
  readonly status: 'pending' | 'queued' | 'running' | 'succeeded' | 'failed';
  /** @default 'schedule' */
  readonly trigger?: RunTrigger;
  readonly config?: unknown;
  /** The backfill that created it (open it first). @default none */
  readonly backfillId?: string;
  readonly error?: string;
  readonly output?: unknown;
  /** @default 1 */
  readonly attempts?: number;
  /** How long the run took, for finished ones. @default 1500 */
  readonly durationMs?: number;
}

/**
 * Writes runs the way the runtime would: inserted pending in the job's transaction (which moves the
 * watermark to `watermark`), queued under an execution, then marked running and finished with their
 * times (each run starts at its interval's end + 1 s).
 */
export async function seedRuns(
  store: StateStore,
  job: JobDefinition,
  runs: readonly SeededRun[],
  watermark: Date,
): Promise<RunRecord[]> {
  const created = await store.withJob(job, async (tx) => {
    await tx.insertRuns(
      runs.map((run) => ({
        interval: run.interval,
        trigger: run.trigger ?? 'schedule',
        config: run.config ?? null,
        backfillId: run.backfillId ?? null,
      })),
    );
    await tx.advanceWatermark(watermark, 0);
    const inRange = await tx.runsInRange(
      runs[0]!.interval.start,
      new Date(runs[runs.length - 1]!.interval.end.getTime()),
    );
    const byStart = new Map(inRange.map((run) => [run.interval.start.getTime(), run]));
    const seeded = runs.map((run) => byStart.get(run.interval.start.getTime())!);
    const queued = seeded.filter((_, i) => runs[i]!.status !== 'pending').map((run) => run.runId);
    if (queued.length > 0) await tx.markQueued(queued, `${job.id}-seeded`);
    return seeded;
  });
  for (const [i, run] of runs.entries()) {
    const record = created[i]!;
    if (run.status === 'pending' || run.status === 'queued') continue;
    const started = new Date(run.interval.end.getTime() + 1_000);
    const finished = new Date(started.getTime() + (run.durationMs ?? 1_500));
    for (let attempt = 1; attempt <= (run.attempts ?? 1); attempt++) {
      await store.markRunning(record.runId, 'main', started);
    }
    if (run.status === 'succeeded') await store.markSucceeded(record.runId, run.output ?? null, finished);
    if (run.status === 'failed') {
      await store.markFailed(record.runId, run.error ?? 'failed', run.attempts ?? 1, finished);
    }
  }
  return Promise.all(created.map(async (run) => (await store.getRun(run.runId))!));
}

/** `count` consecutive intervals of `job` from `from`. */
export function intervalsOf(job: JobDefinition, from: Date, count: number): Interval[] {
  const intervals: Interval[] = [];
  for (const interval of job.schedule.intervals(from, new Date(from.getTime() + 400 * 86_400_000))) {
    intervals.push(interval);
    if (intervals.length === count) break;
  }
  return intervals;
}

/** A running `piko ui` or `piko start` with its web UI. */
export interface UiProcess {
  readonly piko: PikoProcess;
  /** The UI's address, without the token. */
  readonly url: string;
  /** The address that hands a browser the token. */
  readonly urlWithToken: string;
  /** Stops it (SIGINT) and waits for its exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `piko <args> --json --port 0` (a free port) with the UI tests' jobs and waits for the
 * `ui-started` line. `fakeTime` starts the process's clock there (faketime).
 */
export async function startUiProcess(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  fakeTime: string,
): Promise<UiProcess> {
  const piko = startPiko([...args, '--json', '--port', '0'], {
    env: { PIKO_JOBS_DIR: UI_JOBS_DIR, PIKO_SHUTDOWN_GRACE_SECONDS: '2', ...env },
    fakeTime,
    timeoutMs: 300_000,
  });
  const started = await waitFor(
    'the ui-started line',
    async () => {
      for (const line of piko.stdout().split('\n')) {
        if (!line.startsWith('{')) continue;
        const event = JSON.parse(line) as { event: string; url?: string; urlWithToken?: string };
        if (event.event === 'ui-started') return event;
        if (event.event === 'ui-unavailable') throw new Error(`the UI did not start: ${line}`);
      }
      return undefined;
    },
    { everyMs: 50, timeoutMs: 60_000 },
  );
  return {
    piko,
    url: started.url!,
    urlWithToken: started.urlWithToken!,
    async stop() {
      await piko.kill('SIGINT');
      return (await piko.done).code;
    },
  };
}

/** Headless Chromium with a fresh profile; `close()` also removes the profile. */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(path.join(tmpdir(), 'piko-ui-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    context,
    async close() {
      try {
        await context.close();
      } finally {
        await rm(profile, { recursive: true, force: true });
      }
    },
  };
}

/** The screenshot file `name`.png, its folder created. */
export async function screenshotPath(name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  return path.join(SCREENSHOT_DIR, `${name}.png`);
}
