/**
 * `--downstream` backfills on AWS through the control events (DESIGN.md §9): the dispatcher finds the
 * downstream backfills before it plans the upstream one, records them as its chain, and hands them
 * to the backfill state machine (`following`) one after the other once the one before is done. The
 * state machine's loop is played here over a real SQLite store; the job workflows run and succeed.
 */
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobStateMachines, SfnWorkflowStarter } from '../../../shared/aws/sfn-starter.ts';
import type {
  BackfillChangeResponse,
  BackfillNextResponse,
  BackfillPlanResponse,
  BackfillsResponse,
} from '../../../shared/control/events.ts';
import { parseControlEvent } from '../../../shared/control/events.ts';
import {
  type ControlDeps,
  handleControlEvent,
  waitingBackfillWaitSeconds,
} from '../../../shared/control/handlers.ts';
import { defineJob } from '../../../shared/job.ts';
import {
  backfillId,
  chainLinkRequest,
  chainLinks,
  downstreamBackfills,
} from '../../../shared/planner/index.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import type { ExecutionInput } from '../../../shared/workflow/starter.ts';
import { createTempSqliteStore } from '../../helpers/sqlite.ts';

const sfn = mockClient(SFNClient);
const machines = jobStateMachines({
  partition: 'aws',
  region: 'eu-west-1',
  account: '123456789012',
  prefix: 'Piko',
});
const HOUR = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const START = '2025-12-31T00:00:00Z';

const up = defineJob({ id: 'up', schedule: { cron: '0 * * * *' }, start: START, handler: async () => null });
const mid = defineJob({
  id: 'mid',
  schedule: { cron: '0 * * * *' },
  start: START,
  dependsOn: ['up'],
  handler: async () => null,
});
const leaf = defineJob({
  id: 'leaf',
  schedule: { cron: '0 */2 * * *' },
  start: START,
  dependsOn: ['mid'],
  handler: async () => null,
});
const registry = new JobRegistry([up, mid, leaf]);
const RANGE = { from: '2025-12-31T00:00:00.000Z', to: '2025-12-31T06:00:00.000Z' };
const REQUEST = { jobId: 'up', ...RANGE, reprocess: 'all', downstream: true };
const hours = (from: number, count: number, step = 1) =>
  Array.from({ length: count }, (_, i) => new Date(T0 - 24 * HOUR + (from + i * step) * HOUR).toISOString());

let store: StateStore;
let cleanup: () => Promise<void>;
let deps: ControlDeps;

beforeEach(async () => {
  sfn.reset();
  // Every batch the loop hands out has ended by the time it asks again.
  sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' } as never);
  const now = new Date(T0 + 3.5 * HOUR);
  ({ store, cleanup } = await createTempSqliteStore({ clock: () => now }));
  await store.migrate();
  deps = {
    store,
    jobs: registry,
    starter: new SfnWorkflowStarter(new SFNClient({ region: 'eu-west-1' }), machines),
    machines,
    now: () => now,
    maxRunsPerExecution: 4,
  };
  // The range succeeded once for every job, and the upstream jobs have planned past it.
  for (const job of [up, mid, leaf]) {
    await send({
      action: 'mark',
      jobId: job.id,
      ...RANGE,
      as: 'succeeded',
      actor: 'test',
      reason: 'ran before',
    });
    await store.withJob(job, (tx) => tx.advanceWatermark(now, 0));
  }
});
afterEach(async () => {
  await cleanup();
});

const send = <T>(event: unknown) => handleControlEvent(deps, parseControlEvent(event)) as Promise<T>;

/** The runs each batch ran, `job@start`, in the order they ran. */
let ran: string[];

/** What the job workflow does to every run of an execution: run and succeed. */
async function runExecution(input: ExecutionInput): Promise<void> {
  const now = deps.now!();
  for (const run of input.runs) {
    ran.push(`${input.jobId}@${run.interval.start}`);
    await store.markRunning(run.runId, 'main', now);
    await store.markSucceeded(run.runId, null, now);
  }
}

interface Driven {
  readonly current: { jobId: string; backfillId: string; reverse: boolean };
  readonly last: BackfillNextResponse;
}

/**
 * The backfill state machine's loop (infra/constructs/backfill-workflow.ts): asks for the next batch
 * of the backfill it drives, runs it, follows a downstream backfill when handed one; stops when done
 * or when `stop` says so (after a step).
 */
async function loop(
  current: Driven['current'],
  stop: (next: BackfillNextResponse) => boolean = () => false,
): Promise<Driven> {
  for (let step = 0; step < 100; step++) {
    const next = await send<BackfillNextResponse>({ action: 'backfill-next', ...current });
    if (next.following) current = next.following;
    if (next.execution) await runExecution(next.execution);
    if (next.done || stop(next)) return { current, last: next };
  }
  throw new Error('the backfill loop did not end in 100 steps');
}

const plan = (request: unknown = REQUEST) => send<BackfillPlanResponse>({ action: 'backfill-plan', request });
const start = (response: BackfillPlanResponse) => ({
  jobId: response.jobId,
  backfillId: response.backfillId,
  reverse: response.reverse,
});

beforeEach(() => {
  ran = [];
});

describe('backfill --downstream on AWS (the chain)', () => {
  it('chain links are the requests downstreamBackfills makes: the same backfill ids as locally', async () => {
    const request = {
      jobId: 'up',
      from: new Date(RANGE.from),
      to: new Date(RANGE.to),
      reprocess: 'all' as const,
    };
    const downstream = await downstreamBackfills(store, registry, up, request, deps.now!());
    const links = chainLinks(downstream);
    expect(links.map((link) => link.jobId)).toEqual(['mid', 'leaf']);
    expect(links.map((link) => backfillId(chainLinkRequest(link)))).toEqual(
      downstream.flatMap((stale) => stale.requests.map(backfillId)),
    );
  });

  it('a dry run lists per downstream job the intervals that would re-run, and writes nothing', async () => {
    const response = await plan({ ...REQUEST, dryRun: true });
    expect(response.counts.rerun).toBe(6);
    expect(response.downstream).toEqual([
      {
        jobId: 'mid',
        dependsOn: ['up'],
        intervals: 6,
        ranges: [{ start: RANGE.from, end: RANGE.to, intervals: 6 }],
        rangesNotShown: 0,
      },
      {
        jobId: 'leaf',
        dependsOn: ['mid'],
        intervals: 3,
        ranges: [{ start: RANGE.from, end: RANGE.to, intervals: 3 }],
        rangesNotShown: 0,
      },
    ]);
    expect(await store.getBackfill(response.backfillId)).toBeUndefined();
  });

  it('re-runs the upstream intervals, then each downstream job’s overlapping ones, once each, in dependency order', async () => {
    // Act
    const planned = await plan();
    // Recorded before the upstream runs were re-armed: what it found is what the chain runs.
    const chain = await store.getBackfillChain(planned.backfillId);
    const { last } = await loop(start(planned));

    // Assert
    expect(planned.downstream?.map((stale) => [stale.jobId, stale.intervals])).toEqual([
      ['mid', 6],
      ['leaf', 3],
    ]);
    expect(chain).toMatchObject({ kind: 'root', current: -1 });
    expect(last).toEqual({ action: 'backfill-next', done: true });
    expect(ran).toEqual([
      ...hours(0, 6).map((at) => `up@${at}`),
      ...hours(0, 6).map((at) => `mid@${at}`),
      ...hours(0, 3, 2).map((at) => `leaf@${at}`),
    ]);
    const listed = await send<BackfillsResponse>({ action: 'backfills', jobId: 'up' });
    expect(listed.backfills[0]).toMatchObject({ backfillId: planned.backfillId, status: 'done' });
    expect(listed.backfills[0]?.downstream?.map((next) => [next.jobId, next.status])).toEqual([
      ['mid', 'done'],
      ['leaf', 'done'],
    ]);
    // The same request again starts over: the chain is found again and runs again.
    const again = await plan();
    expect(again.downstream?.map((stale) => stale.jobId)).toEqual(['mid', 'leaf']);
  });

  it('a new execution with the same request mid-chain (continue as new, a restart) goes on where the chain is', async () => {
    // Arrange: the upstream backfill is done and the first batch of mid's has run.
    const planned = await plan();
    const { current } = await loop(start(planned), (next) => next.execution?.jobId === 'mid');

    // Act
    const resumed = await plan();
    const { last } = await loop(start(resumed));

    // Assert: nothing found again, the upstream not re-run, mid and leaf each once.
    expect(current.jobId).toBe('mid');
    expect(resumed.downstream).toBeUndefined();
    expect(resumed.counts.rerun).toBe(0);
    expect(last.done).toBe(true);
    expect(ran.filter((run) => run.startsWith('up@'))).toHaveLength(6);
    expect(ran.filter((run) => run.startsWith('mid@'))).toEqual(hours(0, 6).map((at) => `mid@${at}`));
    expect(ran.filter((run) => run.startsWith('leaf@'))).toEqual(hours(0, 3, 2).map((at) => `leaf@${at}`));
  });

  it('pause and cancel of the upstream backfill reach the downstream one it drives; resume restarts the chain', async () => {
    // Arrange: the chain drives mid's backfill; leaf's is pending.
    const planned = await plan();
    const { current } = await loop(start(planned), (next) => next.following !== undefined);
    const change = (action: string) =>
      send<BackfillChangeResponse>({
        action,
        backfillId: planned.backfillId,
        actor: 'ops@laptop',
        reason: null,
      });

    // Act
    const paused = await change('backfill-pause');
    const whilePaused = await send<BackfillNextResponse>({ action: 'backfill-next', ...current });
    const listed = await send<BackfillsResponse>({ action: 'backfills', jobId: 'up' });
    const cancelled = await change('backfill-cancel');
    const afterCancel = await send<BackfillNextResponse>({ action: 'backfill-next', ...current });
    const resumed = await change('backfill-resume');
    const restarted = await plan(resumed.restart);
    const { last } = await loop(start(restarted));

    // Assert
    expect(paused).toMatchObject({
      backfillId: current.backfillId,
      jobId: 'mid',
      from: 'planned',
      to: 'paused',
    });
    expect(whilePaused).toMatchObject({ done: false, waitSeconds: 60 });
    expect(listed.backfills[0]?.downstream?.map((next) => [next.jobId, next.status])).toEqual([
      ['mid', 'paused'],
      ['leaf', 'pending'],
    ]);
    // Its runs were still waiting (the loop had not asked for a batch of it): cancelled too, none left waiting.
    expect(cancelled).toMatchObject({ backfillId: current.backfillId, to: 'cancelled', runs: 6 });
    expect(afterCancel).toEqual({ action: 'backfill-next', done: true, cancelled: true });
    expect(resumed.restart).toEqual({
      jobId: 'up',
      ...RANGE,
      reprocess: 'all',
      dryRun: false,
      reverse: false,
      config: null,
      downstream: true,
    });
    expect(last.done).toBe(true);
    expect(ran).toEqual([
      ...hours(0, 6).map((at) => `up@${at}`),
      ...hours(0, 6).map((at) => `mid@${at}`),
      ...hours(0, 3, 2).map((at) => `leaf@${at}`),
    ]);
  });

  it('a downstream run whose upstream interval failed waits longer the longer it has waited (30 s to 15 min)', async () => {
    // Arrange: up's 02:00 fails in the backfill, so mid's 02:00 waits for it
    const planned = await plan();
    const failing = hours(2, 1)[0];
    const runUp = async (input: ExecutionInput) => {
      const at = deps.now!();
      for (const run of input.runs) {
        await store.markRunning(run.runId, 'main', at);
        if (run.interval.start === failing) await store.markFailed(run.runId, 'source down', 1, at);
        else await store.markSucceeded(run.runId, null, at);
      }
    };
    let current = start(planned);
    let next = await send<BackfillNextResponse>({ action: 'backfill-next', ...current });
    for (let step = 0; step < 20 && !next.waitSeconds; step++) {
      if (next.following) current = next.following;
      if (next.execution) await (next.execution.jobId === 'up' ? runUp : runExecution)(next.execution);
      next = await send<BackfillNextResponse>({ action: 'backfill-next', ...current });
    }

    // Act: asked again as the wait goes on
    const base = deps.now!().getTime();
    const waits: (number | undefined)[] = [next.waitSeconds];
    for (const hoursLater of [1, 2, 24]) {
      deps = { ...deps, now: () => new Date(base + hoursLater * HOUR) };
      waits.push((await send<BackfillNextResponse>({ action: 'backfill-next', ...current })).waitSeconds);
    }

    // Assert: mid's backfill drives the loop now; its 02:00 waits; the waits grow, bounded
    expect(current.jobId).toBe('mid');
    expect(
      (await store.listRuns('mid'))
        .filter((run) => run.status === 'waiting')
        .map((run) => run.interval.start.toISOString()),
    ).toEqual([failing]);
    expect(waits).toEqual([30, 360, 720, 900]);
    expect(waitingBackfillWaitSeconds(-5)).toBe(30);
  });
});
