/**
 * The real `piko` binary on the real example jobs (functions/jobs), each scenario on a fresh data dir
 * used as the working directory (so the examples' relative output paths stay in it), with the clock
 * fixed by faketime so that what is due is known exactly.
 */
import { spawn } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createE2eState,
  type E2eState,
  EXAMPLE_JOBS_DIR,
  FIXTURE_JOBS_DIR,
  jsonLines,
  PIKO_BIN,
  type PikoResult,
  ROOT,
  runPiko,
  runsOf,
  startPiko,
  succeededCount,
  tempDir,
  waitFor,
} from './support.ts';

/** 2026-10-14 12:00:20 UTC: 286.5 days after the examples' start (2026-01-01). */
const FAKE_NOW = '2026-10-14 12:00:20';
/** Minutes from the examples' start to 12:00 on the fake day. */
const MINUTES = 286 * 1440 + 720;

/**
 * A fresh state whose data dir is also the working directory. The local runtime starts Fargate stages
 * with `node --import tsx`, which resolves tsx from the working directory: link the project's
 * node_modules there, as a project root has it.
 */
async function exampleState(label: string): Promise<E2eState> {
  const state = await createE2eState('sqlite', label);
  await symlink(path.join(ROOT, 'node_modules'), path.join(state.dataDir, 'node_modules'), 'dir');
  return state;
}

function examples(state: E2eState, extra: Record<string, string> = {}) {
  return {
    env: { ...state.env, PIKO_JOBS_DIR: EXAMPLE_JOBS_DIR, ...extra },
    cwd: state.dataDir,
    fakeTime: FAKE_NOW,
  };
}

async function countRows(state: E2eState): Promise<{ runs: number; backfills: number }> {
  const [runs] = await state.rows<{ n: number }>('SELECT COUNT(*) AS n FROM piko_runs');
  const [backfills] = await state.rows<{ n: number }>('SELECT COUNT(*) AS n FROM piko_backfills');
  return { runs: Number(runs?.n), backfills: Number(backfills?.n) };
}

describe('piko start --once, status and backfill --dry-run on a fresh data dir', () => {
  let state: E2eState;
  let started: PikoResult;

  beforeAll(async () => {
    state = await exampleState('cli');
    started = await runPiko(['start', '--once', '--json'], examples(state));
  });
  afterAll(async () => {
    await state?.cleanup();
  });

  it('runs the due intervals of every example job and exits 0', async () => {
    // Assert (the run is the Arrange/Act of beforeAll)
    expect(started.code).toBe(0);
    const events = jsonLines(started.stdout);
    expect(events.at(-1)).toEqual({
      time: expect.any(String),
      event: 'stopped',
      planned: 13,
      skipped: MINUTES - 5 + (MINUTES / 5 - 6) + (MINUTES / 60 - 2),
      succeeded: 13,
      failed: 0,
    });
    const succeededPerJob: Record<string, number> = {};
    for (const event of events.filter((e) => e.event === 'succeeded')) {
      const jobId = String(event.jobId);
      succeededPerJob[jobId] = (succeededPerJob[jobId] ?? 0) + 1;
    }
    expect(succeededPerJob).toEqual({ nightly_archive: 2, price_fanout: 5, store_totals: 6 });
  });

  it('status --json reports a numeric succeeded count per job', async () => {
    // Act
    const result = await runPiko(['status', '--json'], examples(state));

    // Assert
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const base = {
      paused: false,
      watermark: '2026-10-14T12:00:00.000Z',
      waiting: 0,
      pending: 0,
      queued: 0,
      running: 0,
      cancelled: 0,
      skippedRuns: 0,
    };
    expect(jsonLines(result.stdout)).toEqual([
      {
        jobId: 'nightly_archive',
        ...base,
        nextTick: '2026-10-14T13:00:00.000Z',
        skipped: MINUTES / 60 - 2,
        succeeded: 2,
        failed: 0,
        version: null,
        outdated: 0,
        failures: [],
      },
      {
        jobId: 'price_fanout',
        ...base,
        nextTick: '2026-10-14T12:01:00.000Z',
        skipped: MINUTES - 5,
        succeeded: 5,
        failed: 0,
        version: null,
        outdated: 0,
        failures: [],
      },
      {
        jobId: 'store_totals',
        ...base,
        nextTick: '2026-10-14T12:05:00.000Z',
        skipped: MINUTES / 5 - 6,
        succeeded: 6,
        failed: 0,
        version: null,
        outdated: 0,
        failures: [],
      },
    ]);
  });

  it('backfill --dry-run --json prints the plan as JSON lines and writes nothing', async () => {
    // Arrange: 11:00 → 12:00 holds 6 skipped intervals and the 6 that ran (11:30 → 12:00)
    const before = await countRows(state);

    // Act
    const result = await runPiko(
      [
        'backfill',
        'store_totals',
        '--from',
        '2026-10-14T11:00:00Z',
        '--to',
        '2026-10-14T12:00:00Z',
        '--dry-run',
        '--json',
      ],
      examples(state),
    );

    // Assert
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const at = (minute: number) => `2026-10-14T11:${String(minute).padStart(2, '0')}:00.000Z`;
    expect(jsonLines(result.stdout)).toEqual([
      ...Array.from({ length: 12 }, (_, i) => ({
        start: at(i * 5),
        end: i === 11 ? '2026-10-14T12:00:00.000Z' : at(i * 5 + 5),
        action: i < 6 ? 'create' : 'skip-succeeded',
      })),
      // The summary: every action with its count.
      {
        plan: { create: 6, rerun: 0, 'skip-succeeded': 6, 'skip-in-flight': 0, 'skip-failed': 0 },
      },
    ]);
    expect(await countRows(state)).toEqual(before);
  });
});

describe('bad input exits 2 with the message on stderr', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    temp = await tempDir('cli-bad');
  });
  afterAll(async () => {
    await temp?.remove();
  });

  const cases: { name: string; args: string[]; message: string }[] = [
    {
      name: 'an instant that does not parse',
      args: ['backfill', 'store_totals', '--from', 'nope', '--to', '2026-10-14T00:00:00Z'],
      message: 'error: --from "nope" is not an ISO 8601 instant with an offset, such as 2026-03-01T00:00:00Z',
    },
    {
      name: 'an unknown job',
      args: ['backfill', 'no_such_job', '--from', '2026-10-13T00:00:00Z', '--to', '2026-10-14T00:00:00Z'],
      message: 'error: Unknown job "no_such_job". Known jobs: nightly_archive, price_fanout, store_totals.',
    },
    {
      name: 'an unknown --reprocess',
      args: [
        'backfill',
        'store_totals',
        '--from',
        '2026-10-13T00:00:00Z',
        '--to',
        '2026-10-14T00:00:00Z',
        '--reprocess',
        'bogus',
      ],
      message: 'error: --reprocess must be one of missing, failed, outdated, all, got "bogus"',
    },
    {
      name: 'a range ending before it starts',
      args: ['backfill', 'store_totals', '--from', '2026-10-14T00:00:00Z', '--to', '2026-10-13T00:00:00Z'],
      message:
        'error: Backfill refused: from (2026-10-14T00:00:00.000Z) must be before to (2026-10-13T00:00:00.000Z)',
    },
    {
      name: 'a UI port for a start that serves no UI',
      args: ['start', '--once', '--port', 'abc'],
      message:
        'error: --port and --host set where the web UI listens; piko start --once serves no UI: leave them out',
    },
    {
      name: 'a date that does not exist',
      args: ['backfill', 'store_totals', '--from', '2026-02-30T00:00:00Z', '--to', '2026-03-03T00:00:00Z'],
      message:
        'error: --from "2026-02-30T00:00:00Z" is a date or time that does not exist (a day past the end of its month, an hour above 23, say): give one that does, such as 2026-03-01T00:00:00Z',
    },
    {
      name: 'a cron minute out of range',
      args: [
        'ticks',
        '--cron',
        '61 * * * *',
        '--from',
        '2026-03-07T00:00:00Z',
        '--to',
        '2026-03-10T00:00:00Z',
      ],
      message: 'error: Invalid cron "61 * * * *": minute field "61" is out of range 0-59',
    },
  ];

  it.each(cases)('$name', async ({ args, message }) => {
    // Act
    const result = await runPiko(args, {
      env: { PIKO_JOBS_DIR: EXAMPLE_JOBS_DIR, PIKO_DATA_DIR: path.join(temp.dir, 'data') },
      cwd: temp.dir,
    });

    // Assert
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
      code: 2,
      stdout: '',
      stderr: `${message}\n`,
    });
  });
});

describe('piko ticks', () => {
  it('prints the intervals of 02:30 in New York across the spring-forward day as JSON lines', async () => {
    // Act
    const result = await runPiko(
      [
        'ticks',
        '--cron',
        '30 2 * * *',
        '--timezone',
        'America/New_York',
        '--from',
        '2026-03-07T00:00:00Z',
        '--to',
        '2026-03-10T00:00:00Z',
        '--json',
      ],
      { env: {} },
    );

    // Assert: 02:30 does not exist on 2026-03-08, so one interval spans two days
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
      code: 0,
      stdout: '{"start":"2026-03-07T07:30:00.000Z","end":"2026-03-09T06:30:00.000Z"}\n',
      stderr: '',
    });
  });
});

/** Runs `piko <args> | head -n <lines>` in bash; resolves with head's output, piko's stderr and piko's exit code. */
function pikoThroughHead(args: readonly string[], lines: number): Promise<PikoResult> {
  const quoted = [process.execPath, PIKO_BIN, ...args].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${quoted.join(' ')} | head -n ${lines}; exit "\${PIPESTATUS[0]}"`], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`piko ${args.join(' ')} | head did not end within ${PIPE_TIMEOUT_MS} ms`));
    }, PIPE_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
/** Generous: the fixed version ends in well under a second; the old one computed 100 years first. */
const PIPE_TIMEOUT_MS = 50_000;
const CENTURY = [
  'ticks',
  '--cron',
  '* * * * *',
  '--from',
  '1926-01-01T00:00:00Z',
  '--to',
  '2026-01-01T00:00:00Z',
];

describe('piko ticks through a pipe', () => {
  it('stops quietly with exit code 0 when the reader goes away: 100 years of minutes | head -2', async () => {
    // Act: a limit above the 52.6 million intervals, so only the closed pipe can stop it
    const result = await pikoThroughHead([...CENTURY, '--json', '--limit', '100000000'], 2);

    // Assert
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
      code: 0,
      stdout:
        '{"start":"1926-01-01T00:00:00.000Z","end":"1926-01-01T00:01:00.000Z"}\n' +
        '{"start":"1926-01-01T00:01:00.000Z","end":"1926-01-01T00:02:00.000Z"}\n',
      stderr: '',
    });
  });

  it('exits 0 under | head -2 with the default limit too', async () => {
    // Act
    const result = await pikoThroughHead(CENTURY, 2);

    // Assert: stderr may carry the "more" notice, if the limit was reached before the pipe closed
    expect({ code: result.code, stdout: result.stdout }).toEqual({
      code: 0,
      stdout:
        '1926-01-01T00:00:00.000Z → 1926-01-01T00:01:00.000Z   (1926-01-01 00:00 → 1926-01-01 00:01 UTC)\n' +
        '1926-01-01T00:01:00.000Z → 1926-01-01T00:02:00.000Z   (1926-01-01 00:01 → 1926-01-01 00:02 UTC)\n',
    });
    expect(result.stderr).toMatch(
      /^(|… more than 999,999 more intervals not shown \(--limit 1000\); raise --limit or narrow --from\/--to\n)$/,
    );
  });
});

describe('piko ticks --limit', () => {
  it('prints the first n intervals and says on stderr how many more there are', async () => {
    // Act
    const result = await runPiko(
      [
        'ticks',
        '--cron',
        '0 0 * * *',
        '--from',
        '2026-01-01T00:00:00Z',
        '--to',
        '2026-01-10T00:00:00Z',
        '--json',
        '--limit',
        '2',
      ],
      { env: {} },
    );

    // Assert
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
      code: 0,
      stdout:
        '{"start":"2026-01-01T00:00:00.000Z","end":"2026-01-02T00:00:00.000Z"}\n' +
        '{"start":"2026-01-02T00:00:00.000Z","end":"2026-01-03T00:00:00.000Z"}\n',
      stderr: '… 7 more intervals not shown (--limit 2); raise --limit or narrow --from/--to\n',
    });
  });

  it('prints 1,000 intervals by default and says "more than" when there are too many to count quickly', async () => {
    // Act
    const result = await runPiko(CENTURY, { env: {} });

    // Assert
    const lines = result.stdout.trimEnd().split('\n');
    expect({ code: result.code, count: lines.length, last: lines.at(-1), stderr: result.stderr }).toEqual({
      code: 0,
      count: 1001,
      last: '1000 intervals',
      stderr:
        '… more than 999,999 more intervals not shown (--limit 1000); raise --limit or narrow --from/--to\n',
    });
  });

  it('refuses a limit that is not a positive integer', async () => {
    // Act
    const result = await runPiko([...CENTURY, '--limit', '0'], { env: {} });

    // Assert
    expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: --limit must be a positive integer, got "0"\n',
    });
  });
});

describe('piko backfill interrupted and run again', () => {
  let state: E2eState | undefined;
  afterAll(async () => {
    await state?.cleanup();
  });

  it('continues where it stopped: every interval once, in the state table and in the sink', async () => {
    // Arrange: 3 days of store_totals (864 intervals), 100 runs per execution
    const s = await exampleState('cli-backfill');
    state = s;
    const args = [
      'backfill',
      'store_totals',
      '--from',
      '2026-10-10T00:00:00Z',
      '--to',
      '2026-10-13T00:00:00Z',
    ];
    const options = examples(s, { PIKO_MAX_RUNS_PER_EXECUTION: '100' });
    const from = Date.parse('2026-10-10T00:00:00Z');
    const expectedStarts = Array.from({ length: 864 }, (_, i) => new Date(from + i * 300_000).toISOString());

    // Act: stop the first backfill (SIGTERM, as Ctrl-C would) once 150 runs have succeeded; run it again
    const first = startPiko([...args, '--json'], options);
    const atInterrupt = await waitFor('150 backfilled runs', async () => {
      const n = await succeededCount(s, 'store_totals');
      return n >= 150 ? n : undefined;
    });
    await first.kill('SIGTERM');
    const interrupted = await first.done;
    const succeededAtStop = await succeededCount(s, 'store_totals');
    console.log(`backfill interrupted after ${atInterrupt}/864 runs (${succeededAtStop} when it exited)`);
    const resumed = await runPiko([...args, '--json'], options);

    // Assert
    expect(interrupted.code).not.toBe(0);
    expect(succeededAtStop).toBeLessThan(864);
    expect(resumed.code).toBe(0);
    const runs = await runsOf(s, 'store_totals');
    expect(runs.map((run) => run.interval.start.toISOString())).toEqual(expectedStarts);
    const statuses: Record<string, number> = {};
    for (const run of runs)
      statuses[`${run.trigger} ${run.status}`] = (statuses[`${run.trigger} ${run.status}`] ?? 0) + 1;
    expect(statuses).toEqual({ 'backfill succeeded': 864 });
    const [sink] = await s.rows<{ n: number; intervals: number }>(
      'SELECT COUNT(*) AS n, COUNT(DISTINCT interval_start) AS intervals FROM example_store_totals',
    );
    expect({ n: Number(sink?.n), intervals: Number(sink?.intervals) }).toEqual({
      n: 864 * 4,
      intervals: 864,
    });
    const backfills = await s.rows<{ status: string }>('SELECT status FROM piko_backfills');
    expect(backfills).toEqual([{ status: 'done' }]);
  });
});

describe('piko backfill in text mode', () => {
  let state: E2eState | undefined;
  afterAll(async () => {
    await state?.cleanup();
  });

  it('moves its progress bar as the runs of a batch end, not only between batches', async () => {
    // Arrange: one day of store_totals (288 intervals) in one execution
    const s = await exampleState('cli-backfill-bar');
    state = s;

    // Act
    const result = await runPiko(
      ['backfill', 'store_totals', '--from', '2026-10-10T00:00:00Z', '--to', '2026-10-11T00:00:00Z'],
      examples(s, { PIKO_MAX_RUNS_PER_EXECUTION: '500' }),
    );

    // Assert: bars at each tenth of the 288 runs on the way, counts never going back, 288 at the end
    expect(result.code).toBe(0);
    const done = [...result.stderr.matchAll(/^\[[#-]{30}\] (\d+)\/288$/gm)].map((match) => Number(match[1]));
    expect(done.at(-1)).toBe(288);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(new Set(done).size).toBe(done.length);
    const tenths = new Set(done.filter((n) => n < 288).map((n) => Math.floor(n / 29)));
    expect([...tenths].filter((tenth) => tenth > 0).length).toBeGreaterThanOrEqual(9);
    expect(result.stdout).toContain('store_totals: backfill done: 288 succeeded, 0 failed');
  });
});

describe('--json keeps standard output for the events', () => {
  let state: E2eState | undefined;
  afterAll(async () => {
    await state?.cleanup();
  });

  it('prints only events on stdout, the log lines (attempts that failed) on stderr', async () => {
    // Arrange: two intervals whose first two attempts fail
    const s = await createE2eState('sqlite', 'cli-json-streams');
    state = s;

    // Act
    const result = await runPiko(
      ['backfill', 'e2e_flaky', '--from', '2026-03-01T00:00:00Z', '--to', '2026-03-01T02:00:00Z', '--json'],
      { env: { ...s.env, PIKO_JOBS_DIR: FIXTURE_JOBS_DIR, PIKO_LOG_LEVEL: 'info' }, timeoutMs: 120_000 },
    );

    // Assert
    expect(result.code).toBe(0);
    const stdout = jsonLines(result.stdout);
    expect(stdout.filter((line) => typeof line.event !== 'string')).toEqual([]);
    expect(stdout.filter((line) => line.event === 'attempt-failed')).toHaveLength(4);
    expect(stdout.at(-1)).toMatchObject({ event: 'backfill-done', succeeded: 2, failed: 0 });
    const logged = jsonLines(result.stderr).filter((line) => line.message === 'stage attempt failed');
    expect(logged).toHaveLength(4);
  });
});
