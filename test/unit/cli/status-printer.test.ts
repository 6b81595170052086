import { describe, expect, it } from 'vitest';
import { printJobStatus, type StatusPrintOptions } from '../../../shared/cli/status-printer.ts';
import type { JobStatus } from '../../../shared/control/status.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import { daily } from '../cli-aws/jobs/index.ts';

/** 2026-11-26T10:00:00Z: `daily` (03:00 UTC) next ticks on the 27th. */
const NOW = new Date('2026-11-26T10:00:00.000Z');

const STATUS: JobStatus = {
  jobId: 'daily',
  watermark: '2026-11-26T03:00:00.000Z',
  paused: true,
  skippedTotal: 4,
  counts: {
    waiting: 0,
    pending: 1,
    queued: 0,
    running: 2,
    succeeded: 300,
    failed: 1,
    cancelled: 0,
    skipped: 0,
  },
  version: null,
  outdated: 0,
  recentFailures: [
    {
      runId: 41,
      interval: { start: '2026-11-20T03:00:00.000Z', end: '2026-11-21T03:00:00.000Z' },
      attempts: 3,
      error: 'upstream said 503',
      finishedAt: '2026-11-21T03:04:05.000Z',
    },
  ],
};

function printed(status: JobStatus, options: Omit<StatusPrintOptions, 'now' | 'jobs'>): string[] {
  const out: string[] = [];
  const io = { out: (line: string) => out.push(line), err: (line: string) => out.push(`ERR ${line}`) };
  printJobStatus(io, status, { ...options, now: NOW, jobs: new JobRegistry([daily]) });
  return out;
}

describe('the status printer', () => {
  it('prints a local status with each failure’s attempts', () => {
    expect(printed(STATUS, { source: 'local' })).toEqual([
      'daily (paused)',
      '  watermark 2026-11-26T03:00:00.000Z, next tick 2026-11-27T03:00:00.000Z',
      '  runs: pending 1, queued 0, running 2, succeeded 300, failed 1, cancelled 0, skipped 0; skipped by catch-up 4',
      '  failed 2026-11-20T03:00:00.000Z → 2026-11-21T03:00:00.000Z after 3 attempt(s): upstream said 503',
    ]);
  });

  it('prints the same status read on AWS with each failure’s run id and finish time', () => {
    expect(printed(STATUS, { source: 'aws' })).toEqual([
      'daily (paused)',
      '  watermark 2026-11-26T03:00:00.000Z, next tick 2026-11-27T03:00:00.000Z',
      '  runs: pending 1, queued 0, running 2, succeeded 300, failed 1, cancelled 0, skipped 0; skipped by catch-up 4',
      '  failed 2026-11-20T03:00:00.000Z → 2026-11-21T03:00:00.000Z (run 41, finished 2026-11-21T03:04:05.000Z): upstream said 503',
    ]);
  });

  it('prints one JSON object per job, its fields in a fixed order, failures as each source has them', () => {
    const local = printed(STATUS, { source: 'local', json: true });
    const aws = printed(STATUS, { source: 'aws', json: true });

    const head =
      '{"jobId":"daily","paused":true,"watermark":"2026-11-26T03:00:00.000Z","nextTick":"2026-11-27T03:00:00.000Z","skipped":4,"waiting":0,"pending":1,"queued":0,"running":2,"succeeded":300,"failed":1,"cancelled":0,"skippedRuns":0';
    expect(local).toEqual([
      `${head},"version":null,"outdated":0,"failures":[{"start":"2026-11-20T03:00:00.000Z","end":"2026-11-21T03:00:00.000Z","attempts":3,"error":"upstream said 503"}]}`,
    ]);
    expect(aws).toEqual([
      `${head},"version":null,"outdated":0,"failures":[{"start":"2026-11-20T03:00:00.000Z","end":"2026-11-21T03:00:00.000Z","runId":41,"finishedAt":"2026-11-21T03:04:05.000Z","error":"upstream said 503"}]}`,
    ]);
  });

  it('prints a job’s code version and its outdated intervals, and nothing of versions for a job without any', () => {
    const versioned: JobStatus = {
      ...STATUS,
      paused: false,
      version: '2026.3',
      outdated: 17,
      recentFailures: [],
    };
    const unversioned: JobStatus = { ...versioned, version: null, outdated: 5 };
    const current: JobStatus = { ...versioned, outdated: 0 };

    expect(printed(versioned, { source: 'local' }).slice(2)).toEqual([
      '  runs: pending 1, queued 0, running 2, succeeded 300, failed 1, cancelled 0, skipped 0; skipped by catch-up 4',
      '  version "2026.3": 17 succeeded interval(s) outdated (piko backfill daily --from … --to … --reprocess outdated re-runs them)',
    ]);
    expect(printed(unversioned, { source: 'local' }).slice(3)).toEqual([
      '  version (none): 5 succeeded interval(s) outdated (piko backfill daily --from … --to … --reprocess outdated re-runs them)',
    ]);
    expect(printed(current, { source: 'aws' }).slice(3)).toEqual([
      '  version "2026.3": 0 succeeded interval(s) outdated',
    ]);
    expect(printed({ ...STATUS, recentFailures: [] }, { source: 'local' })).toHaveLength(3);
    expect(JSON.parse(printed(versioned, { source: 'local', json: true })[0]!)).toMatchObject({
      version: '2026.3',
      outdated: 17,
    });
  });

  it('says when a job of the deployed stack is not a local job, and when a job was never planned', () => {
    const legacy: JobStatus = {
      ...STATUS,
      jobId: 'legacy',
      watermark: null,
      paused: false,
      recentFailures: [],
    };

    expect(printed(legacy, { source: 'aws' }).slice(0, 2)).toEqual([
      'legacy',
      '  watermark (not planned yet), next tick (unknown: not a job of the local functions/jobs)',
    ]);
    expect(JSON.parse(printed(legacy, { source: 'aws', json: true })[0]!)).toMatchObject({
      jobId: 'legacy',
      watermark: null,
      nextTick: null,
      failures: [],
    });
  });
});
