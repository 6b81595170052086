/**
 * Jobs of the `--aws` CLI tests (`PIKO_JOBS_DIR=test/unit/cli-aws/jobs`): `daily` has one schedule
 * and a config schema; `payday` restricts both day fields, so it has two schedules (`.dom`, `.dow`);
 * `weekly` depends on `daily` and `monthly` on `weekly` (`backfill --downstream`).
 */
import { z } from 'zod';
import { defineJob, type JobDefinition } from '#piko';

/** Daily at 03:00 UTC, with a config the backfill checks locally. */
export const daily = defineJob({
  id: 'daily',
  schedule: { cron: '0 3 * * *' },
  start: '2026-01-01T00:00:00Z',
  config: z.object({ region: z.enum(['eu', 'us']).default('eu') }),
  handler: () => null,
});

/** 09:00 in Paris on the 1st of the month and on Mondays: two EventBridge schedules. */
export const payday = defineJob({
  id: 'payday',
  schedule: { cron: '0 9 1 * 1', timezone: 'Europe/Paris' },
  start: '2026-01-01T00:00:00+01:00',
  handler: () => null,
});

/** Mondays at 04:00 UTC, over the days of `daily`. */
export const weekly = defineJob({
  id: 'weekly',
  schedule: { cron: '0 4 * * 1' },
  start: '2026-01-01T00:00:00Z',
  dependsOn: ['daily'],
  handler: () => null,
});

/** The 1st of the month at 05:00 UTC, over the weeks of `weekly`. */
export const monthly = defineJob({
  id: 'monthly',
  schedule: { cron: '0 5 1 * *' },
  start: '2026-01-01T00:00:00Z',
  dependsOn: ['weekly'],
  handler: () => null,
});

export const jobs: readonly JobDefinition[] = [daily, payday, weekly, monthly];
