/**
 * Ctrl-C on `piko backfill` (a child process on SQLite, the chaos job): it stops as `piko start`
 * does, nothing new starts and the intervals running get the grace period and are recorded, it exits
 * 130 saying so, and the same command again runs the rest: every interval's handler exactly once.
 * Before, the signal killed the process at once: its running handlers were cut off, left `running`,
 * and ran again on the next try.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChaosJobOptions } from '../../support/chaos-jobs/chaos-upsert.ts';
import { spawnPiko } from '../../support/piko-process.ts';

const FROM = '2026-01-01T00:00:00.000Z';
const TO = '2026-01-01T00:30:00.000Z';
const INTERVALS = 30;
const EXIT_TIMEOUT_MS = 90_000;

describe('piko backfill stopped by Ctrl-C (SQLite)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'piko-backfill-interrupt-'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lets its running intervals finish, exits 130, and runs the rest once when run again', async () => {
    // Arrange: 30 minutely intervals, 3 at a time, each handler 300-400 ms
    const ledger = path.join(dir, 'ledger');
    const job: ChaosJobOptions = {
      id: 'interrupted',
      start: FROM,
      ledger,
      delayMs: [300, 400],
      concurrency: 3,
    };
    const store = { kind: 'sqlite', file: path.join(dir, 'piko.db') } as const;
    const args = ['backfill', 'interrupted', '--from', FROM, '--to', TO, '--json'];
    const first = spawnPiko({ store, dataDir: dir, job, args });
    const running = await first.waitFor((event) => event.event === 'succeeded', EXIT_TIMEOUT_MS);
    expect(running, first.tail(30)).toBeDefined();

    // Act: Ctrl-C while handlers run, then the same command again
    first.child.kill('SIGINT');
    const stopped = await Promise.race([first.exited, timeout()]);
    const statuses = runStatuses(store.file);
    const second = spawnPiko({ store, dataDir: dir, job, args });
    const finished = await Promise.race([second.exited, timeout()]);

    // Assert: stopped with its running intervals recorded, none left running; then each interval
    // ran exactly once over both commands
    expect(stopped, first.tail(30)).toEqual({ code: 130, signal: null });
    expect(first.count('stopping')).toBe(1);
    expect(first.count('backfill-stopped')).toBe(1);
    expect(statuses.running ?? 0).toBe(0);
    expect(statuses.succeeded ?? 0).toBeGreaterThan(0);
    expect(statuses.succeeded ?? 0).toBeLessThan(INTERVALS);
    expect(finished, second.tail(30)).toEqual({ code: 0, signal: null });
    expect(second.count('backfill-done')).toBe(1);
    const starts = readFileSync(ledger, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ')[1]);
    expect(starts).toHaveLength(INTERVALS);
    expect(new Set(starts).size).toBe(INTERVALS);
    expect(runStatuses(store.file)).toEqual({ succeeded: INTERVALS });
  }, 240_000);
});

function timeout(): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), EXIT_TIMEOUT_MS).unref());
}

/** The job's runs by status, read from the SQLite file. */
function runStatuses(file: string): Record<string, number> {
  const database = new Database(file, { readonly: true });
  try {
    const rows = database
      .prepare("SELECT status, COUNT(*) AS n FROM piko_runs WHERE job_id = 'interrupted' GROUP BY status")
      .all() as { status: string; n: number }[];
    return Object.fromEntries(rows.map((row) => [row.status, row.n]));
  } finally {
    database.close();
  }
}
