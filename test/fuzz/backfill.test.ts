import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BackfillRefusedError, InputError } from '../../shared/errors.ts';
import { defineJob, type JobDefinition, MAX_CONFIG_OVERRIDE_BYTES } from '../../shared/job.ts';
import {
  type BackfillRequest,
  planBackfill,
  type Reprocess,
  validateBackfill,
} from '../../shared/planner/index.ts';
import type { RunStatus, StateStore } from '../../shared/store/types.ts';
import { createTempSqliteStore } from '../helpers/sqlite.ts';
import { anyDate, FuzzCounts, hostileString } from './arbitraries.ts';
import { snapshotDatabase } from './store-snapshot.ts';

const counts = new FuzzCounts('backfill');
/** The planner's "now" in every property: fixed, never the wall clock. */
const NOW = new Date('2026-06-01T00:00:00.000Z');
const HOUR_MS = 3_600_000;
/** Small limits, so accepted ranges stay cheap and the "too many intervals" refusal is reached often. */
const MAX_INTERVALS = 400;

const Config = z.object({ region: z.enum(['eu', 'us']).default('eu'), limit: z.number().int().optional() });

/** Hourly in Kathmandu (+05:45: ticks at :15 UTC), with a config schema. */
const hourly = defineJob({
  id: 'fuzz_hourly',
  schedule: { cron: '0 * * * *', timezone: 'Asia/Kathmandu' },
  start: '2026-01-01T00:00:00+05:45',
  config: Config,
  handler: () => null,
});
/** Daily at 02:30 in New York: a time skipped on the spring-forward day. */
const daily = defineJob({
  id: 'fuzz_daily',
  schedule: { cron: '30 2 * * *', timezone: 'America/New_York' },
  handler: () => null,
});
/** 29 February only: a sparse schedule, walked for years. */
const leapDay = defineJob({
  id: 'fuzz_leap_day',
  schedule: { cron: '0 12 29 2 *' },
  handler: () => null,
});
const JOBS: readonly JobDefinition[] = [hourly, daily, leapDay];

/** Runs that exist before a request: an interval index (hours before NOW) and a status. */
const seedArb = fc.uniqueArray(
  fc.record({
    hoursBefore: fc.integer({ min: 1, max: 24 * 20 }),
    status: fc.constantFrom<RunStatus>('pending', 'queued', 'running', 'succeeded', 'failed'),
  }),
  { maxLength: 12, selector: (seed) => seed.hoursBefore },
);

/** From and to: anywhere, or a range near NOW whose size straddles the limit. */
function rangeArb(): fc.Arbitrary<{ from: Date; to: Date }> {
  const near = fc
    .tuple(fc.integer({ min: -48, max: 24 * 40 }), fc.integer({ min: -3, max: MAX_INTERVALS + 40 }))
    .map(([hoursBefore, length]) => {
      const from = new Date(NOW.getTime() - hoursBefore * HOUR_MS - 15 * 60_000);
      return { from, to: new Date(from.getTime() + length * HOUR_MS) };
    });
  const anywhere = fc.record({ from: anyDate(NOW), to: anyDate(NOW) });
  return fc.oneof({ weight: 3, arbitrary: near }, { weight: 2, arbitrary: anywhere });
}

/** A config override: absent, valid, invalid, or hostile. */
const configArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.record({ region: fc.constantFrom('eu', 'us') }),
  fc.record({ region: hostileString() }),
  fc.record({ limit: fc.oneof(fc.integer(), fc.double(), hostileString()) }),
  fc.jsonValue({ maxDepth: 3 }),
);

const requestArb = fc.record({
  job: fc.constantFrom(...JOBS),
  range: rangeArb(),
  reprocess: fc.constantFrom<Reprocess>('missing', 'failed', 'all'),
  dryRun: fc.boolean(),
  reverse: fc.boolean(),
  config: configArb,
  chunkSize: fc.integer({ min: 1, max: 150 }),
  seed: seedArb,
});

/** What validateBackfill must say about a request, computed independently. */
function expectedRefusal(job: JobDefinition, request: BackfillRequest): RegExp | undefined {
  const { from, to } = request;
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return /must be valid instants/;
  if (from.getTime() >= to.getTime()) return /from \(.*\) must be before to/;
  if (to.getTime() > NOW.getTime()) return /is in the future/;
  let count = 0;
  for (const _ of job.schedule.intervals(from, to))
    if (++count > MAX_INTERVALS) return /holds more than 400 intervals/;
  if (request.config === undefined || request.config === null) return undefined;
  if (Buffer.byteLength(JSON.stringify(request.config)) > MAX_CONFIG_OVERRIDE_BYTES)
    return /^Config override for job "\w+" is \d+ bytes of JSON; the limit is 8192 bytes\./;
  if (!job.config.safeParse(request.config).success) return /Invalid config for job/;
  // Keys the job's schema does not declare are refused, not dropped (the fuzzed schemas are flat).
  const declared = Object.keys((job.config as unknown as { shape?: object }).shape ?? {});
  const config = request.config;
  if (
    typeof config === 'object' &&
    !Array.isArray(config) &&
    Object.keys(config).some((key) => !declared.includes(key))
  )
    return /Invalid config for job "\w+": unknown key/;
  return undefined;
}

describe('backfill requests, fuzzed against a real SQLite store', () => {
  let store: StateStore;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ store, cleanup } = await createTempSqliteStore({ clock: () => NOW }));
    await store.migrate();
  });
  afterAll(async () => {
    await cleanup();
  });

  /** Empties the state tables and creates the seeded runs of `job`. */
  async function reset(job: JobDefinition, seed: readonly { hoursBefore: number; status: RunStatus }[]) {
    for (const table of ['piko_runs', 'piko_backfills', 'piko_jobs'])
      await store.database.query(`DELETE FROM ${table}`);
    const starts = seed.map(({ hoursBefore }) =>
      job.schedule.previousTick(new Date(NOW.getTime() - hoursBefore * HOUR_MS)),
    );
    const intervals = starts
      .filter((start): start is Date => start !== undefined)
      .map((start) => ({ start, end: job.schedule.nextTick(start)! }));
    await store.withJob(job, (tx) =>
      tx.insertRuns(intervals.map((interval) => ({ interval, trigger: 'schedule' as const }))),
    );
    const runs = await store.listRuns(job.id);
    for (const [index, run] of runs.entries()) {
      const status = seed[index % seed.length]!.status;
      if (status === 'queued')
        await store.withJob(job, (tx) => tx.markQueued([run.runId], `fuzz-exec-${run.runId}`));
      if (status === 'running' || status === 'succeeded' || status === 'failed')
        await store.markRunning(run.runId, 'main', NOW);
      if (status === 'succeeded') await store.markSucceeded(run.runId, { ok: true }, NOW);
      if (status === 'failed') await store.markFailed(run.runId, 'seeded failure', 1, NOW);
    }
  }

  it('either plans exactly the range or refuses with the reason, writing nothing', async () => {
    const property = fc.asyncProperty(requestArb, async ({ job, range, seed, chunkSize, ...options }) => {
      counts.tick('planBackfill: plans the range or refuses and writes nothing');
      await reset(job, seed);
      const request: BackfillRequest = { jobId: job.id, ...range, ...options };
      const before = await snapshotDatabase(store.database);
      const refusal = expectedRefusal(job, request);
      const limits = { maxBackfillIntervals: MAX_INTERVALS, chunkSize };

      let result: Awaited<ReturnType<typeof planBackfill>> | undefined;
      let error: unknown;
      try {
        result = await planBackfill(store, job, request, NOW, limits);
      } catch (thrown) {
        error = thrown;
      }
      const after = await snapshotDatabase(store.database);

      counts.tick(
        `  outcome: ${refusal ? `refused ${refusal.source}` : request.dryRun ? 'dry run' : 'planned'}`,
      );
      if (refusal) {
        expect(error, `refused: ${String(refusal)}`).toBeInstanceOf(
          /^\^?(Invalid config|Config override)/.test(refusal.source) ? InputError : BackfillRefusedError,
        );
        expect((error as Error).message).toMatch(refusal);
        expect(() => validateBackfill(job, request, NOW, limits)).toThrow(refusal);
        expect(after).toEqual(before);
        return;
      }
      expect(error).toBeUndefined();
      const intervals = [...job.schedule.intervals(request.from, request.to)];
      const planned = Object.values(result!.counts).reduce((sum, n) => sum + n, 0);
      expect(planned).toBe(intervals.length);
      expect(result!.done).toBe(true);
      if (request.dryRun) {
        expect(after).toEqual(before);
        return;
      }
      // Every interval of the range has a run; runs outside it and in-flight runs were not touched.
      const runs = await store.listRuns(job.id);
      const byStart = new Map(runs.map((run) => [run.interval.start.getTime(), run]));
      for (const interval of intervals) expect(byStart.has(interval.start.getTime())).toBe(true);
      const beforeRuns = await beforeRunsOf(before.piko_runs);
      for (const run of runs) {
        const old = beforeRuns.get(run.runId);
        const inRange = run.interval.start >= request.from && run.interval.start < request.to;
        if (!old) {
          expect(inRange).toBe(true);
          expect(run.status).toBe('pending');
          expect(run.trigger).toBe('backfill');
        } else if (!inRange || ['pending', 'queued', 'running'].includes(old.status)) {
          expect(run.status).toBe(old.status);
          expect(run.generation).toBe(old.generation);
        }
      }
    });
    // A fixed seed (house rule); this one also draws configs over the size limit.
    await fc.assert(property, { numRuns: 300, seed: -1560559678 });
  });

  it('validateBackfill refuses or accepts any Date pair without another kind of error', () => {
    const property = fc.property(fc.constantFrom(...JOBS), anyDate(NOW), anyDate(NOW), (job, from, to) => {
      counts.tick('validateBackfill: any Date pair');
      const request = { jobId: job.id, from, to };
      const refusal = expectedRefusal(job, request);
      if (refusal)
        expect(() => validateBackfill(job, request, NOW, { maxBackfillIntervals: MAX_INTERVALS })).toThrow(
          refusal,
        );
      else expect(validateBackfill(job, request, NOW, { maxBackfillIntervals: MAX_INTERVALS })).toBeNull();
    });
    fc.assert(property, { numRuns: 300, seed: 20261201 });
  });
});

/** Status and generation of each run before the request, by run id. */
async function beforeRunsOf(rows: unknown[]): Promise<Map<number, { status: string; generation: number }>> {
  return new Map(
    (rows as { run_id: number; status: string; generation: number }[]).map((row) => [
      Number(row.run_id),
      { status: row.status, generation: Number(row.generation) },
    ]),
  );
}
