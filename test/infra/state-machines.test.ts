import { createRequire } from 'node:module';
import { StateMachine } from 'aws-local-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { BACKFILL_BATCHES_PER_EXECUTION } from '../../infra/constructs/backfill-workflow.ts';
import { NonRetryableError } from '../../shared/errors.ts';
import { MAX_CONFIG_OVERRIDE_BYTES } from '../../shared/job.ts';
import {
  type FargateTaskRequest,
  runWorkflow,
  type StagePayload,
  type WorkflowBindings,
} from '../../shared/local/workflow/executor.ts';
import { renderJobWorkflow } from '../../shared/local/workflow/render.ts';
import {
  executionInput,
  MAX_EXECUTION_INPUT_BYTES,
  runsPerExecution,
} from '../../shared/planner/dispatch.ts';
import { definitionToAsl } from '../../shared/workflow/asl-tokens.ts';
import type { ExecutionInput } from '../../shared/workflow/starter.ts';
import { buildPikoStack, fixtureJobs, type Resources } from './fixtures.ts';

const aslValidator = createRequire(import.meta.url)('asl-validator') as (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };

const { stack, template } = buildPikoStack(fixtureJobs);
const resources = template.toJSON().Resources as Resources;

/** Every state machine of the template as runnable ASL, by name. */
function machines(): Map<string, string> {
  const result = new Map<string, string>();
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const asl = definitionToAsl(resource.Properties?.DefinitionString, (logicalId) => {
      const type = resources[logicalId]?.Type;
      if (!type) throw new Error(`no resource ${logicalId}`);
      return type;
    });
    result.set(resource.Properties?.StateMachineName as string, asl);
  }
  return result;
}

interface AslState {
  Type: string;
  MaxConcurrency?: number;
  Retry?: unknown[];
  Catch?: unknown[];
  ItemProcessor?: { States: Record<string, AslState> };
}

const asl = machines();
const definition = (name: string) => JSON.parse(asl.get(name)!) as { States: Record<string, AslState> };

/** The Parameters of "Run batch". */
interface SyncParameters {
  readonly StateMachineArn: string;
  readonly Name: string;
  readonly Input: ExecutionInput;
}
/** A `startExecution.sync:2` result (DescribeExecution's fields, Input and Output as JSON). */
type SyncResult = Record<string, unknown>;

/** What `startExecution.sync:2` returns for a child that ended with `output`. */
function syncResult(parameters: SyncParameters, output: unknown): SyncResult {
  return {
    ExecutionArn: `${parameters.StateMachineArn.replace(':stateMachine:', ':execution:')}:${parameters.Name}`,
    Input: parameters.Input,
    InputDetails: { Included: true },
    Name: parameters.Name,
    Output: output,
    OutputDetails: { Included: true },
    RedriveCount: 0,
    RedriveStatus: 'NOT_REDRIVABLE',
    RedriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
    StartDate: 1767225600000,
    StateMachineArn: parameters.StateMachineArn,
    Status: 'SUCCEEDED',
    StopDate: 1767229200000,
  };
}

/** Step Functions' limit on a state's input, output and a task's result, in bytes (256 KiB). */
const STATE_LIMIT_BYTES = 262_144;

/** The size of a value as JSON, in UTF-8 bytes, as Step Functions counts it. */
function bytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function batch(jobId: string, count: number, lane: ExecutionInput['lane'] = 'scheduled'): ExecutionInput {
  const start = Date.parse('2026-01-01T00:00:00Z');
  return {
    jobId,
    executionName: `${jobId}-s20260101T000000Z-0123456789abcdef`,
    lane,
    backfillId: lane === 'backfill' ? 'bf-0123456789abcdef0123' : null,
    runs: Array.from({ length: count }, (_, index) => ({
      runId: index + 1,
      generation: 0,
      interval: {
        start: new Date(start + index * 60_000).toISOString(),
        end: new Date(start + (index + 1) * 60_000).toISOString(),
      },
    })),
  };
}

/** Bindings that record calls; `onRun` decides what a stage does. */
function bindings(
  onRun: (payload: Extract<StagePayload, { action: 'run' }>) => unknown = () => ({ output: null }),
) {
  const runs: Extract<StagePayload, { action: 'run' }>[] = [];
  const failures: Extract<StagePayload, { action: 'fail' }>[] = [];
  const fargate: FargateTaskRequest[] = [];
  const continued: string[] = [];
  const bound: WorkflowBindings = {
    async invokeStage(payload) {
      if (payload.action === 'fail') {
        failures.push(payload);
        return { output: null };
      }
      runs.push(payload);
      return onRun(payload);
    },
    async runFargateTask(request) {
      fargate.push(request);
    },
    async continueDispatch(jobId) {
      continued.push(jobId);
    },
  };
  return { bound, runs, failures, fargate, continued };
}

describe('state machine definitions', () => {
  it('has one per job and the backfill state machine', () => {
    expect([...asl.keys()].sort()).toEqual([
      'Piko--backfill',
      'Piko-archive',
      'Piko-fanout',
      'Piko-payroll',
      'Piko-upsert',
    ]);
  });

  it('passes asl-validator, every one of them', () => {
    for (const [name, text] of asl) {
      const result = aslValidator(JSON.parse(text), { checkPaths: true, checkArn: true });
      expect(result.errorsText('\n'), name).toBe('');
      expect(result.isValid, name).toBe(true);
    }
  });

  it('maps with the job’s concurrency, retries with its policy and catches into "Record failure"', () => {
    expect(definition('Piko-fanout').States.Runs!.MaxConcurrency).toBe(20);
    expect(definition('Piko-archive').States.Runs!.MaxConcurrency).toBe(2);
    const stage = definition('Piko-fanout').States.Runs!.ItemProcessor!.States['Stage main']!;
    expect(stage.Retry).toEqual([
      { ErrorEquals: ['NonRetryableError', 'StageEventRefusedError'], MaxAttempts: 0 },
      {
        ErrorEquals: ['States.ALL'],
        IntervalSeconds: 2,
        MaxAttempts: 2,
        BackoffRate: 2,
        MaxDelaySeconds: 3600,
        JitterStrategy: 'FULL',
      },
    ]);
    expect(stage.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Record failure' },
    ]);
  });

  it('deploys the very definition the local runtime renders', async () => {
    for (const job of fixtureJobs) {
      expect(asl.get(`Piko-${job.id}`), job.id).toBe(await renderJobWorkflow(job));
    }
  });
});

describe('job workflows, run locally from the template', () => {
  beforeAll(() => {
    expect(stack.jobStateMachines.byJob.size).toBe(fixtureJobs.length);
  });

  it('runs every run through its stage, then asks the dispatcher to continue', async () => {
    const recorded = bindings();
    await runWorkflow(asl.get('Piko-fanout')!, batch('fanout', 25), recorded.bound, { noRetryWaits: true });
    expect(recorded.runs.map((run) => run.run.runId).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 25 }, (_, i) => i + 1),
    );
    expect(recorded.failures).toEqual([]);
    expect(recorded.continued).toEqual(['fanout']);
  });

  it('runs Lambda, Fargate and Lambda stages in order, and does not continue after a backfill batch', async () => {
    const recorded = bindings((payload) => ({ output: { from: payload.stage } }));
    await runWorkflow(asl.get('Piko-archive')!, batch('archive', 3, 'backfill'), recorded.bound, {
      noRetryWaits: true,
    });
    expect(recorded.runs.filter((run) => run.run.runId === 1).map((run) => run.stage)).toEqual([
      'plan',
      'publish',
    ]);
    expect(recorded.fargate).toHaveLength(3);
    // The container gets only which run and who asks: the input is read from the state store.
    const events = recorded.fargate.map((request) => JSON.parse(request.environment.PIKO_STAGE_EVENT!));
    expect(events.find((event) => event.run.runId === 1)).toEqual({
      action: 'run',
      stage: 'compress',
      stageIndex: 1,
      lastStage: false,
      run: {
        jobId: 'archive',
        executionName: 'archive-s20260101T000000Z-0123456789abcdef',
        runId: 1,
        generation: 0,
      },
    });
    expect(recorded.continued).toEqual([]);
  });

  it('keeps the Fargate container override far under 8,192 characters at its largest', async () => {
    // Arrange: the longest job id and execution name, the largest run id and generation; a 30-character stage.
    const jobId = `a${'r'.repeat(39)}`;
    const longest = {
      ...batch('archive', 1, 'backfill'),
      jobId,
      executionName: `${jobId}-b${'9'.repeat(80)}`.slice(0, 80),
      runs: [
        {
          runId: Number.MAX_SAFE_INTEGER,
          generation: Number.MAX_SAFE_INTEGER,
          interval: { start: new Date(8.64e15 - 1).toISOString(), end: new Date(8.64e15).toISOString() },
        },
      ],
    };
    const recorded = bindings();

    // Act
    await runWorkflow(asl.get('Piko-archive')!, longest, recorded.bound, { noRetryWaits: true });

    // Assert: RunTask counts every override character; the 'compress' stage name stands for up to 30.
    const [request] = recorded.fargate;
    const characters = Object.entries(request!.environment).reduce(
      (total, [key, value]) => total + key.length + value.length,
      0,
    );
    const largest = characters + 30 - 'compress'.length;
    console.log(`largest container override: ${largest} characters (limit 8192)`);
    expect(largest).toBeLessThan(1_024);
  });

  it('retries a failing stage with the job’s policy', async () => {
    let attempts = 0;
    const recorded = bindings(() => {
      attempts++;
      if (attempts < 3) throw namedError('Error', 'upstream said 503');
      return { output: null };
    });
    await runWorkflow(asl.get('Piko-upsert')!, batch('upsert', 1), recorded.bound, { noRetryWaits: true });
    expect(attempts).toBe(3);
    expect(recorded.failures).toEqual([]);
  });

  it('records the failure after the retries, and at once for a NonRetryableError', async () => {
    const recorded = bindings((payload) => {
      throw payload.run.runId === 1
        ? new NonRetryableError('input file is corrupt')
        : namedError('Error', 'still failing');
    });
    await runWorkflow(asl.get('Piko-payroll')!, batch('payroll', 2), recorded.bound, { noRetryWaits: true });
    expect(recorded.runs.filter((run) => run.run.runId === 1)).toHaveLength(1);
    expect(recorded.runs.filter((run) => run.run.runId === 2)).toHaveLength(3);
    expect(recorded.failures.map((failure) => [failure.run.runId, failure.error.Error]).sort()).toEqual([
      [1, 'NonRetryableError'],
      [2, 'Error'],
    ]);
    expect(recorded.continued).toEqual(['payroll']);
  });
});

describe('backfill state machine, run locally from the template', () => {
  const SELF = 'arn:aws:states:us-east-1:000000000000:stateMachine:Piko--backfill';
  const JOB_MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Piko-fanout';
  const request = { jobId: 'fanout', from: '2026-01-01T00:00:00Z', to: '2026-01-01T01:00:00Z' };
  const plan = (dryRun: boolean) => ({
    action: 'backfill-plan',
    backfillId: 'bf-0123456789abcdef0123',
    jobId: 'fanout',
    dryRun,
    reverse: false,
    planned: true,
    counts: { create: 60, rerun: 0, 'skip-in-flight': 0, 'skip-succeeded': 0, 'skip-failed': 0 },
  });

  interface Fakes {
    plan?: (input: unknown) => unknown;
    next?: (call: number, input: unknown) => unknown;
    /** Sees each `startExecution.sync:2` result as Step Functions would hand it to "Run batch". */
    onBatchResult?: (result: SyncResult) => void;
  }

  /**
   * `startExecution.sync:2` as Step Functions answers it: the child (the job's workflow from the
   * template, its stages succeeding at once) has run; the result holds its input and output as JSON.
   */
  async function runBatch(parameters: SyncParameters): Promise<SyncResult> {
    const jobMachine = parameters.StateMachineArn.split(':').pop()!;
    const output = await runWorkflow(asl.get(jobMachine)!, parameters.Input, bindings().bound, {
      noRetryWaits: true,
    });
    return syncResult(parameters, output);
  }

  async function run(fakes: Fakes, input: unknown = request) {
    const calls = {
      plan: [] as unknown[],
      next: [] as unknown[],
      batches: [] as unknown[],
      continued: [] as unknown[],
    };
    const machine = new StateMachine(JSON.parse(asl.get('Piko--backfill')!), {
      validationOptions: { checkPaths: true, checkArn: true },
    });
    const execution = machine.run(input as never, {
      context: { StateMachine: { Id: SELF, Name: 'Piko--backfill' } } as never,
      overrides: {
        taskResourceLocalHandlers: {
          'Plan backfill': async (payload) => {
            calls.plan.push(payload);
            return (fakes.plan ?? (() => plan(false)))(payload) as never;
          },
          'Next batch': async (payload) => {
            calls.next.push(payload);
            return (fakes.next ?? (() => ({ done: true })))(calls.next.length, payload) as never;
          },
          'Run batch': async (parameters) => {
            calls.batches.push(parameters);
            const result = await runBatch(parameters as unknown as SyncParameters);
            fakes.onBatchResult?.(result);
            return result as never;
          },
          'Continue as new execution': async (parameters) => {
            calls.continued.push(parameters);
            return { ExecutionArn: `${SELF}:next` };
          },
        },
        waitTimeOverrides: { 'Wait for running batch': 0 },
        retryIntervalOverrides: { 'Plan backfill': 0, 'Next batch': 0, 'Run batch': 0 },
      },
    });
    return { output: await execution.result, calls };
  }

  it('ends a dry run with the plan, starting nothing', async () => {
    const { output, calls } = await run({ plan: () => plan(true) }, { ...request, dryRun: true });
    expect(output).toEqual(plan(true));
    expect(calls.plan).toEqual([{ action: 'backfill-plan', request: { ...request, dryRun: true } }]);
    expect(calls.next).toEqual([]);
    expect(calls.batches).toEqual([]);
  });

  it('runs batches one by one with startExecution.sync until the dispatcher says done', async () => {
    const batches = [batch('fanout', 40, 'backfill'), batch('fanout', 20, 'backfill')];
    const { output, calls } = await run({
      next: (call) =>
        call <= 2
          ? { done: false, execution: batches[call - 1], stateMachineArn: JOB_MACHINE }
          : { done: true },
    });
    expect(output).toEqual(plan(false));
    expect(calls.next).toEqual(
      Array.from({ length: 3 }, () => ({
        action: 'backfill-next',
        jobId: 'fanout',
        backfillId: 'bf-0123456789abcdef0123',
        reverse: false,
      })),
    );
    expect(calls.batches).toEqual(
      batches.map((input) => ({ StateMachineArn: JOB_MACHINE, Name: input.executionName, Input: input })),
    );
  });

  it('waits while a batch of the backfill runs elsewhere, then goes on', async () => {
    const { calls } = await run({
      next: (call) =>
        call === 1
          ? { done: false, waitSeconds: 30 }
          : call === 2
            ? { done: false, execution: batch('fanout', 1, 'backfill'), stateMachineArn: JOB_MACHINE }
            : { done: true },
    });
    expect(calls.next).toHaveLength(3);
    expect(calls.batches).toHaveLength(1);
  });

  it('retries a transient dispatcher error', async () => {
    const { calls } = await run({
      next: (call) => {
        if (call === 1) throw namedError('StoreError', 'Cannot use MySQL at proxy:3306/piko: ETIMEDOUT');
        return { done: true };
      },
    });
    expect(calls.next).toHaveLength(2);
  });

  it('fails with the dispatcher’s refusal, running nothing', async () => {
    const refused = namedError('BackfillRefusedError', 'Backfill refused: from must be before to');
    await expect(
      run({
        plan: () => {
          throw refused;
        },
      }),
    ).rejects.toThrow('Backfill refused: from must be before to');
  });

  it('keeps a full batch with the largest config override under 256 KiB: the state, the child input, the .sync:2 result', async () => {
    // Arrange: the largest config override allowed, on the backfill request and on every run row;
    // the longest names; the most runs a batch may hold, each with the largest ids and instants.
    const config = { blob: 'x'.repeat(MAX_CONFIG_OVERRIDE_BYTES - JSON.stringify({ blob: '' }).length) };
    expect(Buffer.byteLength(JSON.stringify(config))).toBe(MAX_CONFIG_OVERRIDE_BYTES);
    const jobId = `f${'a'.repeat(39)}`;
    const backfillId = `bf-${'b'.repeat(125)}`;
    const name = `${jobId}-b+275760-09-12T00Z-${'c'.repeat(80)}`.slice(0, 80);
    const size = runsPerExecution(Number.MAX_SAFE_INTEGER);
    const far = 8.64e15 - 2 * 3_600_000;
    const rows = Array.from({ length: size }, (_, index) => ({
      runId: Number.MAX_SAFE_INTEGER - index,
      generation: Number.MAX_SAFE_INTEGER,
      interval: { start: new Date(far + index), end: new Date(8.64e15) },
      config,
    }));
    const largest = executionInput(jobId, name, { kind: 'backfill', backfillId }, rows as never);
    let syncResultBytes = 0;
    let stateBytes = 0;

    // Act: the backfill runs that batch through the job's workflow from the template.
    const { output } = await run(
      {
        next: (call, payload) => {
          if (call > 1) return { done: true };
          const next = { done: false, execution: largest, stateMachineArn: JOB_MACHINE };
          // The state "Run batch" gets: the request, the counter, the plan, the backfill it drives
          // and the batch.
          const current = { jobId: 'fanout', backfillId: 'bf-0123456789abcdef0123', reverse: false };
          stateBytes = bytes({
            request: { ...request, config },
            iteration: 0,
            plan: plan(false),
            current,
            next,
          });
          expect(payload).toMatchObject({ action: 'backfill-next' });
          return next;
        },
        onBatchResult: (result) => {
          syncResultBytes = bytes(result);
        },
      },
      { ...request, config },
    );

    // Assert
    const childInputBytes = bytes(largest);
    console.log(
      `largest batch: ${size} runs; job input ${childInputBytes} B; "Run batch" state input ${stateBytes} B; ` +
        `.sync:2 result ${syncResultBytes} B (limit ${STATE_LIMIT_BYTES} B)`,
    );
    expect(childInputBytes).toBeLessThanOrEqual(MAX_EXECUTION_INPUT_BYTES);
    expect(stateBytes).toBeLessThan(STATE_LIMIT_BYTES);
    expect(syncResultBytes).toBeGreaterThan(childInputBytes);
    expect(syncResultBytes).toBeLessThan(STATE_LIMIT_BYTES);
    expect(output).toEqual(plan(false));
  });

  it('in the template: "Next batch" asks for the backfill the loop drives, which a handed-over downstream backfill replaces', () => {
    const states = (
      JSON.parse(asl.get('Piko--backfill')!) as { States: Record<string, Record<string, unknown>> }
    ).States;
    expect(states['Drive the backfill']).toMatchObject({
      Type: 'Pass',
      Parameters: {
        'jobId.$': '$.plan.jobId',
        'backfillId.$': '$.plan.backfillId',
        'reverse.$': '$.plan.reverse',
      },
      ResultPath: '$.current',
      Next: 'Next batch',
    });
    expect(states['Next batch']).toMatchObject({
      Parameters: {
        action: 'backfill-next',
        'jobId.$': '$.current.jobId',
        'backfillId.$': '$.current.backfillId',
        'reverse.$': '$.current.reverse',
      },
    });
    expect(states['Done?']?.Choices).toContainEqual({
      Variable: '$.next.following',
      IsPresent: true,
      Next: 'Drive the downstream backfill',
    });
    expect(states['Drive the downstream backfill']).toMatchObject({
      Type: 'Pass',
      InputPath: '$.next.following',
      ResultPath: '$.current',
      Next: 'Count',
    });
    expect(states.Count?.Parameters).toMatchObject({ 'current.$': '$.current' });
  });

  it('drives each downstream backfill the dispatcher hands over (--downstream), in the same loop, ending with the plan', async () => {
    // Arrange: fanout's backfill runs one batch, then the dispatcher hands over two downstream ones.
    const downstream = [
      { jobId: 'archive', backfillId: 'bf-1111111111111111111a', reverse: false },
      { jobId: 'fanout_report', backfillId: 'bf-2222222222222222222b', reverse: false },
    ];
    const answers = [
      { done: false, execution: batch('fanout', 2, 'backfill'), stateMachineArn: JOB_MACHINE },
      { done: false, following: downstream[0] },
      { done: false, waitSeconds: 30 },
      { done: false, following: downstream[1] },
      { done: true },
    ];

    // Act
    const { output, calls } = await run(
      { next: (call) => answers[call - 1] ?? { done: true } },
      { ...request, reprocess: 'all', downstream: true },
    );

    // Assert: each "Next batch" names the backfill the loop drives at that point.
    expect(calls.plan).toEqual([
      { action: 'backfill-plan', request: { ...request, reprocess: 'all', downstream: true } },
    ]);
    expect(
      (calls.next as { jobId: string; backfillId: string }[]).map((next) => [next.jobId, next.backfillId]),
    ).toEqual([
      ['fanout', 'bf-0123456789abcdef0123'],
      ['fanout', 'bf-0123456789abcdef0123'],
      ['archive', 'bf-1111111111111111111a'],
      ['archive', 'bf-1111111111111111111a'],
      ['fanout_report', 'bf-2222222222222222222b'],
    ]);
    expect(calls.batches).toHaveLength(1);
    expect(output).toEqual(plan(false));
  });

  it(`hands over to a new execution with the same input after ${BACKFILL_BATCHES_PER_EXECUTION} batches`, async () => {
    const { calls } = await run({
      next: () => ({ done: false, execution: batch('fanout', 1, 'backfill'), stateMachineArn: JOB_MACHINE }),
    });
    expect(calls.batches).toHaveLength(BACKFILL_BATCHES_PER_EXECUTION);
    expect(calls.continued).toEqual([{ StateMachineArn: SELF, Input: request }]);
  });
});
