import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionLeases, leaseHost } from '../../../shared/local/leases.ts';
import type { WorkflowBindings } from '../../../shared/local/workflow/executor.ts';
import { LeasedWorkflowStarter, type LeaseNotice } from '../../../shared/local/workflow/leased-starter.ts';
import type { ExecutionEnd } from '../../../shared/local/workflow/local-starter.ts';
import { renderJobWorkflow } from '../../../shared/local/workflow/render.ts';
import { leaseStoreOf } from '../../../shared/store/leases.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import type { StagePayload } from '../../../shared/workflow/stage-event.ts';
import { createTempSqliteStore } from '../../helpers/sqlite.ts';
import { executionInput, singleStageJob, sleep } from '../workflow/jobs.ts';

const T0 = new Date('2026-05-01T10:00:00.000Z');
const TTL_MS = 30_000;
const HEARTBEAT_MS = 10_000;

/** A gate a test opens once. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('LeasedWorkflowStarter', () => {
  let opened: Awaited<ReturnType<typeof createTempSqliteStore>>;
  let store: StateStore;
  let asl: string;
  let sequence = 0;
  const newName = () => `single-s20260501-${++sequence}`;

  beforeAll(async () => {
    asl = await renderJobWorkflow(singleStageJob);
    opened = await createTempSqliteStore();
    store = opened.store;
    await store.migrate();
  });

  afterAll(async () => {
    await opened.cleanup();
  });

  /** One runtime's starter on the shared store: its own holder (token), a clock the test moves. */
  function runtime(bindings: Partial<WorkflowBindings> = {}) {
    let now = T0.getTime();
    const notices: LeaseNotice[] = [];
    const ends: ExecutionEnd[] = [];
    const othersDone: string[] = [];
    const stages: StagePayload[] = [];
    const starter = new LeasedWorkflowStarter({
      leases: (onChange) =>
        new ExecutionLeases({
          store: leaseStoreOf(store),
          ttlMs: TTL_MS,
          heartbeatMs: HEARTBEAT_MS,
          clock: () => new Date(now),
          onChange,
        }),
      pollMs: 5,
      workflowOf: () => asl,
      noRetryWaits: true,
      bindings: {
        invokeStage: async (payload) => {
          stages.push(payload);
          return { output: null };
        },
        runFargateTask: async () => undefined,
        continueDispatch: async () => undefined,
        ...bindings,
      },
      onExecutionEnd: (end) => ends.push(end),
      onNotice: (notice) => notices.push(notice),
      onOthersDone: (jobId) => othersDone.push(jobId),
    });
    return {
      starter,
      notices,
      ends,
      othersDone,
      stages,
      setClock: (ms: number) => {
        now = T0.getTime() + ms;
      },
    };
  }

  it('leaves an execution another live runtime holds to it, waits for its end, then says so', async () => {
    // Arrange: A runs a batch whose handlers wait on a gate.
    const held = gate();
    let aStages = 0;
    const a = runtime({
      invokeStage: async () => {
        aStages++;
        await held.opened;
        return { output: null };
      },
    });
    const b = runtime();
    const input = executionInput(singleStageJob, 2, 'scheduled', newName());
    await a.starter.start(input);

    // Act: B sees it (as a dispatcher would) and is asked to start it again.
    const status = await b.starter.status(input.jobId, input.executionName);
    await b.starter.start(input);
    let bIdle = false;
    const bWaits = b.starter.whenIdle().then(() => {
      bIdle = true;
    });
    await sleep(50);
    const idleWhileHeld = bIdle;
    held.open();
    await a.starter.whenIdle();
    await bWaits;

    // Assert
    expect(status).toBe('running');
    expect(idleWhileHeld).toBe(false);
    expect(aStages).toBe(2);
    expect(b.stages).toEqual([]);
    expect(b.othersDone).toEqual([singleStageJob.id]);
    expect(await b.starter.status(input.jobId, input.executionName)).toBe('ended');
    expect(b.notices).toEqual([
      expect.objectContaining({
        event: 'lease-waiting',
        text: expect.stringMatching(
          new RegExp(
            `^single: execution ${input.executionName} runs in pid ${process.pid} on .+ \\(lease until 2026-05-01T10:00:30.000Z\\); waiting for it to end, or to take it over if that runtime stops$`,
          ),
        ),
      }),
    ]);
    expect(a.ends).toEqual([expect.objectContaining({ outcome: 'succeeded' })]);
  });

  it('takes over at once an execution whose holder on this host is gone, and says from whom', async () => {
    // Arrange: a lease left by a killed process (kill -9: never ended, not expired).
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((resolve) => child.on('exit', resolve));
    const input = executionInput(singleStageJob, 3, 'scheduled', newName());
    const ref = { jobId: input.jobId, executionName: input.executionName };
    await leaseStoreOf(store).create(
      ref,
      { host: leaseHost(), pid: child.pid!, token: 'k'.repeat(24) },
      T0,
      TTL_MS,
    );
    const b = runtime();

    // Act
    const status = await b.starter.status(ref.jobId, ref.executionName);
    await b.starter.start(input);
    await b.starter.whenIdle();

    // Assert
    expect(status).toBe('absent');
    expect(b.stages).toHaveLength(3);
    expect(b.notices).toEqual([
      expect.objectContaining({
        event: 'lease-taken-over',
        text: `single: took over execution ${ref.executionName} from pid ${child.pid} on ${leaseHost().split(' / ')[0]} (that process is gone)`,
      }),
    ]);
    expect((await leaseStoreOf(store).get(ref))?.endedAt).toEqual(T0);
  });

  it('holds back new stages while the heartbeat cannot confirm the lease, and goes on once it does', async () => {
    // Arrange: 6 runs at concurrency 4; the first 4 stages hold until the lease is at risk.
    const held = gate();
    const a = runtime({
      invokeStage: async (payload) => {
        a.stages.push(payload);
        await held.opened;
        return { output: null };
      },
    });
    const input = executionInput(singleStageJob, 6, 'scheduled', newName());
    await a.starter.start(input);
    while (a.stages.length < 4) await sleep(5);

    // Act: no heartbeat got through for ttl - heartbeat; the running stages finish.
    a.setClock(TTL_MS - HEARTBEAT_MS);
    held.open();
    await sleep(100);
    const whileUnconfirmed = a.stages.length;
    await a.starter.leases.heartbeat();
    await a.starter.whenIdle();

    // Assert: the 2 runs left waited for the renewal, then ran here; nothing else happened.
    expect(whileUnconfirmed).toBe(4);
    expect(a.stages.map((payload) => payload.action)).toEqual(Array(6).fill('run'));
    expect(a.ends).toEqual([expect.objectContaining({ outcome: 'succeeded' })]);
    expect(a.notices).toEqual([]);
  });

  it('stops the execution when another runtime took its lease over, and waits for that one', async () => {
    // Arrange: A's first 4 stages hold; A's lease then goes unconfirmed and B takes it over.
    const held = gate();
    const a = runtime({
      invokeStage: async (payload) => {
        a.stages.push(payload);
        await held.opened;
        return { output: null };
      },
    });
    const b = runtime();
    const input = executionInput(singleStageJob, 6, 'scheduled', newName());
    await a.starter.start(input);
    while (a.stages.length < 4) await sleep(5);
    a.setClock(TTL_MS - HEARTBEAT_MS);
    b.setClock(TTL_MS);
    await b.starter.start(input);

    // Act: A's 4 stages finish, its 2 others wait; A's heartbeat finds the lease taken.
    held.open();
    await a.starter.leases.heartbeat();
    await Promise.all([a.starter.whenIdle(), b.starter.whenIdle()]);

    // Assert: B ran the execution; A started nothing after it lost the lease, recorded no failure,
    // and waited for B's execution to end.
    expect(a.stages.map((payload) => payload.action)).toEqual(Array(4).fill('run'));
    expect(a.ends).toEqual([expect.objectContaining({ outcome: 'aborted' })]);
    expect(a.notices.map((notice) => notice.event)).toEqual(['lease-lost', 'lease-waiting']);
    expect(a.notices[0]?.text).toBe(
      `single: lost the lease of execution ${input.executionName} (another runtime took it over after it expired): no new stage of it starts here; another runtime takes it over`,
    );
    expect(a.othersDone).toEqual([singleStageJob.id]);
    expect(b.stages).toHaveLength(6);
    expect(b.notices).toEqual([expect.objectContaining({ event: 'lease-taken-over' })]);
    expect(b.ends).toEqual([expect.objectContaining({ outcome: 'succeeded' })]);
    expect(await a.starter.status(input.jobId, input.executionName)).toBe('ended');
  });

  it('resumes an execution it lost once its new holder is gone, instead of counting it ended', async () => {
    // Arrange: A loses its lease to a process on this host that then dies (kill -9).
    const held = gate();
    const a = runtime({
      invokeStage: async (payload) => {
        a.stages.push(payload);
        await held.opened;
        return { output: null };
      },
    });
    const input = executionInput(singleStageJob, 6, 'scheduled', newName());
    const ref = { jobId: input.jobId, executionName: input.executionName };
    await a.starter.start(input);
    while (a.stages.length < 4) await sleep(5);
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((resolve) => child.on('exit', resolve));
    const lease = (await leaseStoreOf(store).get(ref))!;
    const gone = { host: leaseHost(), pid: child.pid!, token: 'g'.repeat(24) };
    await leaseStoreOf(store).takeOver(lease, gone, new Date(T0.getTime() + TTL_MS), TTL_MS);

    // Act
    a.setClock(HEARTBEAT_MS);
    await a.starter.leases.heartbeat();
    held.open();
    await a.starter.whenIdle();
    const status = await a.starter.status(ref.jobId, ref.executionName);
    await a.starter.start(input);
    await a.starter.whenIdle();

    // Assert: left, then absent (not "ended here", which would requeue its runs), then run again here.
    expect(a.othersDone).toEqual([singleStageJob.id]);
    expect(status).toBe('absent');
    expect(a.stages).toHaveLength(4 + 6);
    expect(a.ends.map((end) => end.outcome)).toEqual(['aborted', 'succeeded']);
    expect(a.notices.map((notice) => notice.event)).toEqual([
      'lease-lost',
      'lease-waiting',
      'lease-taken-over',
    ]);
  });
});
