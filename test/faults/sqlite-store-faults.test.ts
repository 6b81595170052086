/**
 * SQLite disk full, corruption and an empty file, through the real CLI (issue 10, item 7).
 * - Full while planning (a small tmpfs, filled up): `piko start --once` must not retry for ever and
 *   must not record a job failure: it exits non-zero after a bounded number of store failures with a
 *   message, and once space is freed the next start runs every interval exactly once.
 * - Full while runs are in flight (filled up, then freed): a handler that has run is never run again
 *   because its result could not be written; its result is held and recorded once space is back, so
 *   the ledger of handler executions has each interval exactly once and no run failed.
 * - Full while runs are in flight, and full for good: `start --once` (its clock 10× fast) gives up
 *   with the message, though its stages wait for a lease the store cannot renew; the next start, with
 *   space again, runs what was not recorded.
 * - A zeroed page, and a 0-byte file where state existed: refused at start with restore advice.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ONCE_MAX_STORE_FAILURES } from '../../shared/cli/give-up.ts';
import { openSqliteStore } from '../../shared/store/sqlite.ts';
import { fastClockEnv } from '../../support/fast-clock.ts';
import { type PikoExit, sleep, spawnPiko } from '../../support/piko-process.ts';

const MINUTE_MS = 60_000;
const PAGE_SIZE = 4096;
/** Five store failures with 1 + 2 + 4 + 8 s of backoff, and start-up: far below this. */
const EXIT_TIMEOUT_MS = 120_000;
const isRoot = process.getuid?.() === 0;

function minutesAgo(count: number): Date {
  return new Date(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - count * MINUTE_MS);
}

async function runOnce(
  options: Parameters<typeof spawnPiko>[0],
): Promise<{ exit: PikoExit; child: ReturnType<typeof spawnPiko> }> {
  const child = spawnPiko(options);
  const exit = await Promise.race([child.exited, sleep(EXIT_TIMEOUT_MS).then(() => undefined)]);
  if (!exit) {
    await child.kill9();
    throw new Error(`piko start --once did not exit within ${EXIT_TIMEOUT_MS / 1000} s:\n${child.tail(30)}`);
  }
  return { exit, child };
}

/** Fills the file system of `dir` with one file, then gives back `leaveBytes`. */
function fillUp(dir: string, leaveBytes: number): string {
  const filler = path.join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOSPC') throw error;
  }
  ftruncateSync(fd, Math.max(0, written - leaveBytes));
  closeSync(fd);
  return filler;
}

describe.skipIf(!isRoot)('SQLite disk full (a small tmpfs)', () => {
  let mountPoint: string;
  let dataDir: string;

  beforeAll(async () => {
    mountPoint = await mkdtemp(path.join(tmpdir(), 'piko-full-mnt-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', mountPoint]);
    dataDir = await mkdtemp(path.join(tmpdir(), 'piko-full-'));
  });

  afterAll(async () => {
    if (mountPoint) {
      execFileSync('umount', [mountPoint]);
      await rm(mountPoint, { recursive: true, force: true });
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it(
    'gives up --once with a message when planning fills the disk, fails no run, and recovers once space is freed',
    async () => {
      // Arrange: a migrated store on the tmpfs, then the disk filled but for 1 MiB
      const file = path.join(mountPoint, 'piko.db');
      const ledger = path.join(dataDir, 'full.ledger');
      const store = { kind: 'sqlite' as const, file };
      const warmup = await runOnce({ store, dataDir, job: { id: 'warmup', start: minutesAgo(2) } });
      expect(warmup.exit, warmup.child.tail(30)).toEqual({ code: 0, signal: null });
      const filler = fillUp(mountPoint, 256 * 1024);
      const job = { id: 'full', start: minutesAgo(5_000), ledger, delayMs: [0, 1] as const };

      // Act: the child's clock 10× fast, so its minute of store backoff passes in seconds
      const full = await runOnce({ store, dataDir, job, env: fastClockEnv(10) });

      // Assert: exit 1 with the reason, given up by planning, nothing recorded as failed
      expect(full.exit, full.child.tail(30)).toEqual({ code: 1, signal: null });
      const gaveUp = full.child.events.filter((event) => event.event === 'store-failed');
      expect(gaveUp, full.child.tail(30)).toEqual([
        expect.objectContaining({ jobId: 'full', failedIn: 'plan', failures: ONCE_MAX_STORE_FAILURES }),
      ]);
      expect(full.child.otherLines.join('\n')).toContain('(SQLITE_FULL)');
      expect(full.child.otherLines.join('\n')).toContain('Free disk space where the state file lives');
      expect(full.child.count('failed')).toBe(0);

      // Act: space again, and start again
      rmSync(filler);
      const again = await runOnce({ store, dataDir, job });

      // Assert: every due interval ran exactly once and succeeded
      expect(again.exit, again.child.tail(30)).toEqual({ code: 0, signal: null });
      const reader = await openSqliteStore({ file });
      try {
        const runs = await reader.listRuns('full');
        expect(runs.length).toBeGreaterThanOrEqual(5_000);
        expect(runs.filter((run) => run.status !== 'succeeded')).toEqual([]);
      } finally {
        await reader.close();
      }
      const executions = readFileSync(ledger, 'utf8').split('\n').filter(Boolean);
      const starts = executions.map((line) => line.split(' ')[1]);
      expect(new Set(starts).size).toBe(starts.length);
    },
    3 * EXIT_TIMEOUT_MS,
  );

  it(
    'holds the results of runs in flight while the disk is full and records them once freed: each interval runs exactly once',
    async () => {
      // Arrange: runs under way, some already recorded
      const file = path.join(mountPoint, 'inflight.db');
      const ledger = path.join(dataDir, 'inflight.ledger');
      const start = minutesAgo(200);
      const job = {
        id: 'inflight',
        start,
        ledger,
        delayMs: [20, 60] as const,
        concurrency: 5,
      };
      const child = spawnPiko({ store: { kind: 'sqlite', file }, dataDir, job });
      try {
        expect(
          await child.waitUntil(() => child.count('succeeded') >= 10, EXIT_TIMEOUT_MS),
          child.tail(30),
        ).toBe(true);

        // Act: the disk full while handlers run, until the store fails; then space again
        const filler = fillUp(mountPoint, 0);
        const storeFull = () =>
          child.events.some((event) => JSON.stringify(event).includes('SQLITE_FULL')) ||
          child.otherLines.some((line) => line.includes('SQLITE_FULL'));
        expect(await child.waitUntil(storeFull, EXIT_TIMEOUT_MS), child.tail(30)).toBe(true);
        await sleep(2_000);
        rmSync(filler);
        const exit = await Promise.race([child.exited, sleep(EXIT_TIMEOUT_MS).then(() => undefined)]);

        // Assert: nothing failed, every interval succeeded and ran exactly once
        expect(exit, child.tail(30)).toEqual({ code: 0, signal: null });
        expect(child.count('failed')).toBe(0);
        const reader = await openSqliteStore({ file });
        let runs: Awaited<ReturnType<typeof reader.listRuns>>;
        try {
          runs = await reader.listRuns('inflight');
        } finally {
          await reader.close();
        }
        // Every minute from the start, without a gap: 200, and one more for each minute that became
        // due while the runtime ran (it plans again after the store is back).
        const dueUntil = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
        expect(runs.length).toBeGreaterThanOrEqual(200);
        expect(start.getTime() + runs.length * MINUTE_MS).toBeLessThanOrEqual(dueUntil);
        expect(runs.map((run) => run.interval.start.getTime())).toEqual(
          runs.map((_, index) => start.getTime() + index * MINUTE_MS),
        );
        expect(runs.filter((run) => run.status !== 'succeeded')).toEqual([]);
        const starts = readFileSync(ledger, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split(' ')[1]);
        const perInterval = new Map<string, number>();
        for (const start of starts) perInterval.set(start!, (perInterval.get(start!) ?? 0) + 1);
        const twice = [...perInterval].filter(([, count]) => count > 1);
        console.log(
          `disk full in flight: ${runs.length} intervals, ${starts.length} handler executions, ${twice.length} intervals run more than once`,
        );
        expect(twice).toEqual([]);
        expect(perInterval.size).toBe(runs.length);
        // … because a result was held and recorded again, not because the disk filled between runs
        expect(child.otherLines.some((line) => line.includes('after the stage ran'))).toBe(true);
      } finally {
        await child.kill9();
      }
    },
    3 * EXIT_TIMEOUT_MS,
  );
  it(
    'gives up --once when the disk fills under runs in flight and stays full, and the next start runs what was not recorded',
    async () => {
      // Arrange: runs under way (the child's clock 10× fast: the store's backoff, the leases and the
      // grace period pass in seconds), some already recorded
      const file = path.join(mountPoint, 'stuck.db');
      const ledger = path.join(dataDir, 'stuck.ledger');
      const store = { kind: 'sqlite' as const, file };
      const job = { id: 'stuck', start: minutesAgo(2_000), ledger, delayMs: [0, 1] as const };
      const child = spawnPiko({ store, dataDir, job, env: fastClockEnv(10) });
      let filler: string | undefined;
      try {
        expect(
          await child.waitUntil(() => child.count('succeeded') >= 10, EXIT_TIMEOUT_MS),
          child.tail(30),
        ).toBe(true);

        // Act: the disk full while handlers run, and never freed while this process runs
        filler = fillUp(mountPoint, 0);
        const exit = await Promise.race([child.exited, sleep(EXIT_TIMEOUT_MS).then(() => undefined)]);

        // Assert: exit 1 with the reason and what to fix, though stages waited for their lease
        expect(exit, `piko start --once did not exit with the disk full:\n${child.tail(30)}`).toEqual({
          code: 1,
          signal: null,
        });
        expect(child.count('lease-at-risk'), child.tail(30)).toBeGreaterThanOrEqual(1);
        const gaveUp = child.events.filter((event) => event.event === 'store-failed');
        expect(gaveUp, child.tail(30)).toEqual([
          expect.objectContaining({ jobId: 'stuck', failedIn: 'lease-heartbeat' }),
        ]);
        const output = child.otherLines.join('\n');
        expect(output).toContain('error: SQLite query failed (SQLITE_FULL)');
        expect(output).toContain('Free disk space where the state file lives');
        expect(output).toContain('piko gave up: the state store stayed unavailable.');
        expect(child.count('failed')).toBe(0);
      } finally {
        await child.kill9();
        if (filler) rmSync(filler);
      }

      // Act: space again, and start again (the real clock)
      const again = await runOnce({ store, dataDir, job });

      // Assert: no run lost: every due interval succeeded, each run by a handler at least once
      expect(again.exit, again.child.tail(30)).toEqual({ code: 0, signal: null });
      expect(again.child.count('failed')).toBe(0);
      const reader = await openSqliteStore({ file });
      let runs: Awaited<ReturnType<typeof reader.listRuns>>;
      try {
        runs = await reader.listRuns('stuck');
      } finally {
        await reader.close();
      }
      expect(runs.length).toBeGreaterThanOrEqual(2_000);
      expect(runs.filter((run) => run.status !== 'succeeded')).toEqual([]);
      const ran = new Set(
        readFileSync(ledger, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split(' ')[1]),
      );
      expect(runs.filter((run) => !ran.has(run.interval.start.toISOString()))).toEqual([]);
    },
    3 * EXIT_TIMEOUT_MS,
  );

  it(
    'gives up a piko backfill when the disk fills under its runs and stays full, and the same command again finishes it',
    async () => {
      // Arrange: a backfill of 2,000 minutes under way (the child's clock 10× fast), some recorded
      const file = path.join(mountPoint, 'backfill.db');
      const ledger = path.join(dataDir, 'backfill.ledger');
      const store = { kind: 'sqlite' as const, file };
      const job = { id: 'refill', start: minutesAgo(2_000), ledger, delayMs: [0, 1] as const };
      const range = ['--from', minutesAgo(2_000).toISOString(), '--to', minutesAgo(0).toISOString()];
      const args = ['backfill', 'refill', ...range, '--json'];
      const child = spawnPiko({ store, dataDir, job, args, env: fastClockEnv(10) });
      let filler: string | undefined;
      try {
        expect(
          await child.waitUntil(() => child.count('succeeded') >= 10, EXIT_TIMEOUT_MS),
          child.tail(30),
        ).toBe(true);

        // Act: the disk full while handlers run, and never freed while this process runs
        filler = fillUp(mountPoint, 0);
        const exit = await Promise.race([child.exited, sleep(EXIT_TIMEOUT_MS).then(() => undefined)]);

        // Assert: it ends, non-zero, saying why and what to fix; no run recorded as failed
        expect(exit, `piko backfill did not exit with the disk full:\n${child.tail(30)}`).toEqual({
          code: 1,
          signal: null,
        });
        const output = child.otherLines.join('\n');
        expect(output).toContain('(SQLITE_FULL)');
        expect(output).toContain('Free disk space where the state file lives');
        expect(output).toContain('piko gave up: the state store stayed unavailable.');
        expect(output).toContain('when this piko backfill command runs again');
        expect(child.count('store-failed'), child.tail(30)).toBeGreaterThanOrEqual(1);
        // Never told done: it stopped far from its end.
        expect(child.count('backfill-done')).toBe(0);
        expect(child.count('failed')).toBe(0);
      } finally {
        await child.kill9();
        if (filler) rmSync(filler);
      }

      // Act: space again, and the same command again (the real clock)
      const again = spawnPiko({ store, dataDir, job, args });
      const exit = await Promise.race([again.exited, sleep(EXIT_TIMEOUT_MS).then(() => undefined)]);
      await again.kill9();

      // Assert: the backfill finished: every interval of the range succeeded, each run at least once
      expect(exit, again.tail(30)).toEqual({ code: 0, signal: null });
      const reader = await openSqliteStore({ file });
      let runs: Awaited<ReturnType<typeof reader.listRuns>>;
      try {
        runs = await reader.listRuns('refill');
      } finally {
        await reader.close();
      }
      expect(runs).toHaveLength(2_000);
      expect(runs.filter((run) => run.status !== 'succeeded')).toEqual([]);
      const ran = new Set(
        readFileSync(ledger, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split(' ')[1]),
      );
      expect(runs.filter((run) => !ran.has(run.interval.start.toISOString()))).toEqual([]);
    },
    3 * EXIT_TIMEOUT_MS,
  );
});

describe('SQLite state file that cannot be trusted, at piko start', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'piko-corrupt-'));
  });

  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function stateWithRuns(name: string): Promise<string> {
    const dir = path.join(dataDir, name);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'piko.db');
    const first = await runOnce({
      store: { kind: 'sqlite', file },
      dataDir: dir,
      job: { id: name, start: minutesAgo(300) },
    });
    expect(first.exit, first.child.tail(30)).toEqual({ code: 0, signal: null });
    expect(existsSync(`${file}-wal`)).toBe(false);
    return file;
  }

  it(
    'refuses a zeroed page with restore advice instead of retrying for ever',
    async () => {
      // Arrange
      const file = await stateWithRuns('zeroed');
      const pages = statSync(file).size / PAGE_SIZE;
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.alloc(PAGE_SIZE), 0, PAGE_SIZE, Math.floor(pages / 2) * PAGE_SIZE);
      closeSync(fd);

      // Act
      const { exit, child } = await runOnce({
        store: { kind: 'sqlite', file },
        dataDir: path.dirname(file),
        job: { id: 'zeroed', start: minutesAgo(300) },
      });

      // Assert
      expect(exit).toEqual({ code: 1, signal: null });
      const output = child.otherLines.join('\n');
      expect(output).toContain(`error: The SQLite state store "${file}" is corrupt (`);
      expect(output).toContain(`restore "${file}" from a backup`);
    },
    2 * EXIT_TIMEOUT_MS,
  );

  it(
    'refuses a 0-byte file where state existed instead of planning every job again',
    async () => {
      // Arrange
      const file = await stateWithRuns('emptied');
      truncateSync(file, 0);

      // Act
      const { exit, child } = await runOnce({
        store: { kind: 'sqlite', file },
        dataDir: path.dirname(file),
        job: { id: 'emptied', start: minutesAgo(300) },
      });

      // Assert
      expect(exit).toEqual({ code: 1, signal: null });
      expect(child.count('planned')).toBe(0);
      expect(child.otherLines.join('\n')).toContain(
        `error: The SQLite state store "${file}" is empty (0 bytes), but "${file}.id" says state existed there`,
      );
      expect(statSync(file).size).toBe(0);
    },
    2 * EXIT_TIMEOUT_MS,
  );
});
