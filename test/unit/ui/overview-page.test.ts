/**
 * The overview's chip beside each job: late, or, with nothing left to run, whether its latest
 * interval failed (a job whose every run failed read "on time"), else on time.
 */
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../../shared/job.ts';
import { RUN_STATUSES, type RunCounts } from '../../../shared/store/types.ts';
import type { CellKind } from '../../../shared/ui/grid.ts';
import type { JobOverview } from '../../../shared/ui/model.ts';
import { overviewPage } from '../../../shared/ui/pages/overview.ts';

const job = defineJob({
  id: 'hourly_sales',
  schedule: { cron: '0 * * * *' },
  handler: async () => undefined,
});
const hour = (n: number) => new Date(Date.UTC(2026, 2, 1, n));

function overview(kinds: readonly CellKind[]): JobOverview {
  const counts = Object.fromEntries(RUN_STATUSES.map((status) => [status, 0])) as RunCounts;
  for (const kind of kinds) if (kind in counts) counts[kind as keyof RunCounts] += 1;
  return {
    job,
    status: {
      jobId: job.id,
      watermark: hour(kinds.length).toISOString(),
      paused: false,
      skippedTotal: 0,
      counts,
      version: null,
      outdated: 0,
      recentFailures: [],
    },
    state: undefined,
    nextTick: hour(kinds.length + 1),
    lateness: undefined,
    recent: kinds.map((kind, n) => ({ interval: { start: hour(n), end: hour(n + 1) }, kind })),
    late: undefined,
  };
}

const chipOf = async (kinds: readonly CellKind[]) =>
  /<header class="job-head">[\s\S]*?<span class="chip ([^"]+)"[^>]*>([^<]+)<\/span>/
    .exec(String(await overviewPage([overview(kinds)])))
    ?.slice(1);

describe('the overview chip of a job that is not late', () => {
  it('says the latest interval failed when it did', async () => {
    expect(await chipOf(['failed', 'failed', 'failed'])).toEqual(['s-failed latest-failed', 'latest failed']);
    expect(await chipOf(['succeeded', 'failed'])).toEqual(['s-failed latest-failed', 'latest failed']);
  });

  it('says on time when the latest interval succeeded, whatever failed before', async () => {
    expect(await chipOf(['failed', 'succeeded'])).toEqual(['on-time', 'on time']);
    expect(await chipOf([])).toEqual(['on-time', 'on time']);
  });
});
