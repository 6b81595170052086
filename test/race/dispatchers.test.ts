/**
 * Racing dispatchers across processes (issue 5, item 3). Several child processes plan and dispatch the
 * same jobs at once against one MariaDB database, repeatedly, as concurrent dispatcher Lambdas do.
 * Their workflow starter is shared through a directory and behaves like Step Functions (idempotent by
 * name, one status for all; see dispatcher-child.ts). Afterwards: every due interval has exactly one
 * run, succeeded; every execution name was always started with the same runs; no run was given to two
 * executions or run twice; nothing was lost.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMysqlStore } from '../../shared/store/mysql/index.ts';
import type { StateStore } from '../../shared/store/types.ts';
import type { ExecutionInput } from '../../shared/workflow/starter.ts';
import { type ChaosJobOptions, defineChaosJob } from '../../support/chaos-jobs/chaos-upsert.ts';
import { createTestDatabase, mysqlGate, type TestDatabase } from '../../support/mysql.ts';
import { childEnv, REPO_ROOT } from '../../support/piko-process.ts';
import {
  addCheck,
  checkJobState,
  emptyTotals,
  plannedRange,
  plausibleWatermark,
} from '../../support/state-checks.ts';
import { type ChildCounts, RACE_FILES } from './dispatcher-child.ts';

const CHILD = fileURLToPath(new URL('./dispatcher-child.ts', import.meta.url));
const PROCESSES = 5;
/**
 * Races of 5 processes over 3 fresh jobs each: 2 in `npm test`; `npx tsx bench/racing-dispatchers.ts`
 * runs this file with `PIKO_RACE_REPETITIONS` (6 by default, as `npm test` did before).
 */
const REPETITIONS = Math.max(1, Number(process.env.PIKO_RACE_REPETITIONS ?? 2) || 2);
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const gate = await mysqlGate('racing dispatcher tests');

describe.skipIf(gate.skip)('racing dispatchers across processes (MariaDB)', () => {
  let database: TestDatabase;
  let store: StateStore;
  let root: string;

  beforeAll(async () => {
    if (!gate.probe.available) throw new Error(gate.probe.reason);
    database = await createTestDatabase('race');
    store = await openMysqlStore({ dsn: database.dsn, poolSize: 2 });
    await store.migrate();
    root = await mkdtemp(path.join(tmpdir(), 'piko-race-'));
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it(
    'never plans a run twice, never gives one to two executions, never loses an interval',
    async () => {
      const totals = {
        ...emptyTotals(),
        processes: 0,
        racingMs: 0,
        planners: 0,
        startCalls: 0,
        executions: 0,
        restarted: 0,
        runsInTwoExecutions: 0,
        nameConflicts: 0,
        executedTwice: 0,
      };
      const began = performance.now();

      // Three jobs per repetition, all due at once: two minutely with a few hundred intervals, one hourly
      const now = Date.now();
      const repetitions: ChaosJobOptions[][] = Array.from({ length: REPETITIONS }, (_, repetition) => [
        { id: `race_${repetition}_a`, start: new Date(floor(now, MINUTE_MS) - 240 * MINUTE_MS) },
        { id: `race_${repetition}_b`, start: new Date(floor(now, MINUTE_MS) - 150 * MINUTE_MS) },
        {
          id: `race_${repetition}_h`,
          start: new Date(floor(now, HOUR_MS) - 200 * HOUR_MS),
          cron: '0 * * * *',
        },
      ]);
      const children = Array.from({ length: PROCESSES }, () => raceChild(root, repetitions, database.dsn));
      await Promise.all(children.map((child) => child.ready));

      for (const [repetition, jobs] of repetitions.entries()) {
        // Arrange
        const dir = path.join(root, `r${repetition}`);
        mkdirSync(dir, { recursive: true });
        const earliest = new Date();

        // Act: let every process go at once
        const go = performance.now();
        writeFileSync(path.join(dir, RACE_FILES.go), '');
        const results = await Promise.all(children.map((child) => child.next()));
        const latest = new Date();
        totals.racingMs += performance.now() - go;

        // Assert: the processes themselves saw no error
        expect(results.flatMap((result) => result.errors)).toEqual([]);

        // Same name ⇒ same runs, every time it was started
        const runsByName = new Map<string, string>();
        let nameConflicts = 0;
        for (const line of readLines(path.join(dir, RACE_FILES.starts))) {
          const start = JSON.parse(line) as { name: string; runs: number[] };
          const runs = start.runs.join(',');
          const known = runsByName.get(start.name);
          if (known !== undefined && known !== runs) nameConflicts++;
          runsByName.set(start.name, runs);
        }
        // Each run in one execution, each run executed once
        const executionOf = new Map<number, string>();
        let runsInTwoExecutions = 0;
        const executionFiles = readdirSync(path.join(dir, RACE_FILES.executions));
        for (const file of executionFiles) {
          const input = JSON.parse(
            readFileSync(path.join(dir, RACE_FILES.executions, file), 'utf8'),
          ) as ExecutionInput;
          for (const run of input.runs) {
            if (executionOf.has(run.runId)) runsInTwoExecutions++;
            executionOf.set(run.runId, input.executionName);
          }
        }
        const executed = new Map<string, number>();
        for (const line of readLines(path.join(dir, RACE_FILES.ledger))) {
          const [jobId, runId] = line.split(' ');
          const key = `${jobId} ${runId}`;
          executed.set(key, (executed.get(key) ?? 0) + 1);
        }
        const executedTwice = [...executed.values()].filter((count) => count > 1).length;

        // Every due interval: one run, succeeded; no run outside the due set
        let intervals = 0;
        for (const options of jobs) {
          const job = defineChaosJob(options);
          const due = await plannedRange(store, job);
          expect(
            plausibleWatermark(job, due.to, earliest, latest),
            `${job.id} watermark ${due.to.toISOString()}`,
          ).toBe(true);
          const check = await checkJobState({ store, job, due });
          expect(check.problems, job.id).toEqual([]);
          addCheck(totals, check);
          intervals += check.intervals;
        }
        expect(executed.size).toBe(intervals);
        expect({ nameConflicts, runsInTwoExecutions, executedTwice }).toEqual({
          nameConflicts: 0,
          runsInTwoExecutions: 0,
          executedTwice: 0,
        });

        totals.processes += PROCESSES;
        totals.planners += results.filter((result) => result.planned > 0).length;
        totals.startCalls += results.reduce((sum, result) => sum + result.startCalls, 0);
        totals.executions += executionFiles.length;
        totals.restarted += results.reduce((sum, result) => sum + result.restarted, 0);
        totals.runsInTwoExecutions += runsInTwoExecutions;
        totals.nameConflicts += nameConflicts;
        totals.executedTwice += executedTwice;
      }

      console.log(
        `racing dispatchers: ${REPETITIONS} repetitions × ${PROCESSES} processes, ${totals.trials} job checks, ` +
          `${totals.intervals} intervals checked (planned by ${totals.planners} of the ${totals.processes} processes), ${totals.executions} executions (${totals.startCalls} start calls, ` +
          `${totals.restarted} restarts of a queued batch by another process), duplicates ${totals.duplicates}, ` +
          `lost ${totals.lost}, names started with different runs ${totals.nameConflicts}, runs in two executions ` +
          `${totals.runsInTwoExecutions}, runs executed twice ${totals.executedTwice} in ` +
          `${(totals.racingMs / 1000).toFixed(1)} s of racing, ` +
          `${((performance.now() - began) / 1000).toFixed(1)} s`,
      );
      expect({ duplicates: totals.duplicates, lost: totals.lost }).toEqual({ duplicates: 0, lost: 0 });
    },
    60_000 + 40_000 * REPETITIONS,
  );
});

interface RaceChild {
  readonly ready: Promise<void>;
  /** The counts of the next repetition. */
  next(): Promise<ChildCounts>;
}

/** Starts one dispatcher process for every repetition; `ready` once it is connected. */
function raceChild(root: string, repetitions: readonly ChaosJobOptions[][], dsn: string): RaceChild {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: REPO_ROOT,
    env: {
      ...childEnv(),
      RACE_DIR: root,
      RACE_DSN: dsn,
      RACE_JOBS: JSON.stringify(repetitions),
      RACE_ROUNDS: '30',
      RACE_MAX_RUNS: '40',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buffer = '';
  let stderr = '';
  let exited: number | null | undefined;
  const results: ChildCounts[] = [];
  let wake: () => void = () => {};
  const failure = () =>
    new Error(
      `dispatcher process ${child.pid} exited with ${exited}:\n${buffer.slice(-2000)}\n${stderr.slice(-2000)}`,
    );
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    child.on('exit', (code) => {
      exited = code;
      reject(failure());
      wake();
    });
  });
  ready.catch(() => {});
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line === 'ready') markReady();
      else if (line.startsWith('{')) results.push(JSON.parse(line) as ChildCounts);
    }
    wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return {
    ready,
    async next() {
      while (results.length === 0) {
        if (exited !== undefined) throw failure();
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      return results.shift()!;
    },
  };
}

function readLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

function floor(ms: number, unit: number): number {
  return Math.floor(ms / unit) * unit;
}
