/**
 * Per-run log files (issue 13 item 2): bounded per run (truncation marker) and in total (oldest
 * removed), redacted before they are stored, buffered, and never failing the run on a bad disk.
 */
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { printRunLog } from '../../../shared/cli/runs-printer.ts';
import { generationStarts, RunLogFiles, readRunLog, runLogPath } from '../../../shared/store/run-logs.ts';
import { REDACTED, registerSecret } from '../../../shared/telemetry.ts';

const LIMITS = { maxRunBytes: 4_096, maxTotalBytes: 1_000_000 };

describe('run log files', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'logs-run-logs-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("keeps every attempt's lines of a run in one file, in order, with their attempt", async () => {
    const files = new RunLogFiles(dataDir, LIMITS);
    const first = files.open('daily', 7);
    first.write({ level: 'info', attempt: 1, stage: 'main', message: 'fetched', fields: { rows: 3 } });
    first.write({ level: 'error', attempt: 1, stage: 'main', message: 'boom' });
    await first.close();
    const second = files.open('daily', 7);
    second.write({ level: 'info', attempt: 2, stage: 'main', message: 'fetched again' });
    await files.close();

    const log = await readRunLog(dataDir, 'daily', 7);

    expect(log.path).toBe(runLogPath(dataDir, 'daily', 7));
    expect(log.lines?.map((line) => [line.attempt, line.level, line.message, line.fields])).toEqual([
      [1, 'info', 'fetched', { rows: 3 }],
      [1, 'error', 'boom', undefined],
      [2, 'info', 'fetched again', undefined],
    ]);
    expect(log.truncated).toBe(false);
  });

  it("keeps each line's generation, and says where a rerun's lines begin (UI and piko runs --logs)", async () => {
    // Arrange: the run's first generation, then its rerun (generation 1) in the same file
    const files = new RunLogFiles(dataDir, LIMITS);
    const first = files.open('daily', 9);
    first.write({ level: 'info', attempt: 1, stage: 'main', generation: 0, message: 'tick 0' });
    first.write({ level: 'info', attempt: 1, stage: 'main', generation: 0, message: 'tick 1' });
    await first.close();
    const rerun = files.open('daily', 9);
    rerun.write({ level: 'info', attempt: 1, stage: 'main', generation: 1, message: 'tick 0' });
    await files.close();
    const log = await readRunLog(dataDir, 'daily', 9);
    const printed: string[] = [];

    // Act
    printRunLog({ out: (line) => printed.push(line), err: () => {} }, log.lines, log.path);

    // Assert
    expect(log.lines?.map((line) => [line.generation, line.message])).toEqual([
      [0, 'tick 0'],
      [0, 'tick 1'],
      [1, 'tick 0'],
    ]);
    expect([...generationStarts(log.lines ?? [])]).toEqual([
      [0, 0],
      [2, 1],
    ]);
    expect(printed.slice(1).map((line) => line.replace(/^ {4}\d\S+ /, '    <time> '))).toEqual([
      '    ── generation 0 ──',
      '    <time> INFO  [attempt 1 main] tick 0',
      '    <time> INFO  [attempt 1 main] tick 1',
      '    ── generation 1: run again (a rerun or a requeue) ──',
      '    <time> INFO  [attempt 1 main] tick 0',
    ]);
    // One generation only (or lines from before generations were kept): no marks.
    expect(generationStarts((log.lines ?? []).slice(0, 2)).size).toBe(0);
  });

  it('stops a run at max_run_bytes with one truncation marker, across attempts', async () => {
    const files = new RunLogFiles(dataDir, LIMITS);
    const writer = files.open('daily', 1);
    for (let i = 0; i < 200; i++) {
      writer.write({ level: 'info', attempt: 1, stage: 'main', message: `line ${i} ${'x'.repeat(40)}` });
    }
    await writer.close();
    const again = files.open('daily', 1);
    again.write({ level: 'info', attempt: 2, stage: 'main', message: 'after the bound' });
    await files.close();

    const log = await readRunLog(dataDir, 'daily', 1);
    const size = (await stat(log.path)).size;

    expect(size).toBeLessThanOrEqual(LIMITS.maxRunBytes);
    expect(log.truncated).toBe(true);
    expect(log.lines?.filter((line) => line.truncated)).toHaveLength(1);
    expect(log.lines?.at(-1)?.message).toBe(
      "log truncated: this run's log reached [logs] max_run_bytes (4096 bytes); later lines are not kept",
    );
    expect(log.lines?.some((line) => line.message === 'after the bound')).toBe(false);
    expect(log.lines?.[0]?.message).toMatch(/^line 0 /);
  });

  it('removes the oldest files beyond max_total_bytes', async () => {
    // Arrange: three old files of 3,000 bytes each, the oldest first.
    const limits = { maxRunBytes: 4_096, maxTotalBytes: 8_000 };
    await mkdir(join(dataDir, 'logs', 'daily'), { recursive: true });
    for (const [runId, age] of [
      [1, 300],
      [2, 200],
      [3, 100],
    ] as const) {
      const path = runLogPath(dataDir, 'daily', runId);
      await writeFile(path, `${'{}'.padEnd(2_999, ' ')}\n`);
      const when = new Date(Date.UTC(2026, 0, 1) - age * 1_000);
      await utimes(path, when, when);
    }
    const files = new RunLogFiles(dataDir, limits);

    // Act: a fourth run writes; its close finds 9,000+ bytes.
    const writer = files.open('daily', 4);
    writer.write({ level: 'info', attempt: 1, stage: 'main', message: 'new' });
    await files.close();

    // Assert: 9,000+ bytes down to at most 90% of the bound (7,200): the oldest file went.
    expect((await readdir(join(dataDir, 'logs', 'daily'))).sort()).toEqual(['2.log', '3.log', '4.log']);
  });

  it('redacts secrets in messages and fields before they are stored', async () => {
    registerSecret('hunter2-very-secret');
    const files = new RunLogFiles(dataDir, LIMITS);
    const writer = files.open('daily', 9);
    writer.write({
      level: 'info',
      attempt: 1,
      stage: 'main',
      message: 'connecting to mysql://app:pa55word@db:3306/x with hunter2-very-secret',
      fields: {
        note: 'api_key=abcdef123456',
        nested: { auth: 'Bearer abc.def.ghi', password: 'opensesame-42' },
      },
    });
    await files.close();

    const text = JSON.stringify((await readRunLog(dataDir, 'daily', 9)).lines);

    expect(text).not.toContain('pa55word');
    expect(text).not.toContain('hunter2-very-secret');
    expect(text).not.toContain('abcdef123456');
    expect(text).not.toContain('abc.def.ghi');
    expect(text).not.toContain('opensesame-42');
    expect(text).toContain(REDACTED);
  });

  it('never throws when the disk refuses the write: the lines are dropped with a warning', async () => {
    // A file where the job's folder should be: mkdir fails.
    await writeFile(join(dataDir, 'logs'), 'not a folder');
    const files = new RunLogFiles(dataDir, LIMITS);
    const writer = files.open('daily', 2);

    writer.write({ level: 'info', attempt: 1, stage: 'main', message: 'lost' });
    await expect(files.close()).resolves.toBeUndefined();

    await expect(readRunLog(dataDir, 'daily', 2)).rejects.toThrow(/ENOTDIR/);
  });
});
