/**
 * Step Functions cost of an interval: the state transitions Piko's job workflows take, counted by
 * running the deployed definitions, priced at the Standard rate; for jobs above a concurrency of 40
 * (a Distributed Map) also what Standard and Express child executions would cost.
 *
 * Synthesizes the real stack in process (`PikoStack`, asset bundling off as in the infra tests) with
 * two jobs: a single-stage job (`handler`) and a three-stage job (lambda → fargate → lambda). Each job's
 * `AWS::StepFunctions::StateMachine` is taken from the template, turned into runnable ASL with
 * `definitionToAsl`, and run in aws-local-stepfunctions on batches of 1, 10 and 100 runs, with Task
 * handlers that answer at once (the stage Lambda, the Fargate task, the dispatcher). The transitions
 * are counted from the execution's event log as Step Functions bills them:
 *
 *   - every state entered counts one: Map, Task, Choice, Pass and Succeed states alike, and the states
 *     inside a Map iteration once per iteration (the Map state itself once per execution);
 *   - every retry of a state counts one more ("each retry will be charged as an additional state
 *     transition", https://aws.amazon.com/step-functions/pricing/);
 *   - the execution's start, the Map's iteration events and the states' exits do not count.
 *
 * A straight line transitions(N) = a + b·N is fitted on the batches (and must fit them exactly): `a`
 * is the fixed overhead of an execution (Map, "Scheduled?", "Continue dispatch", "Wake?", "Dispatch
 * continued"), `b` the marginal transitions of one interval. The per-interval figure in the JSON is
 * b + a / 500, the overhead amortised over the dispatcher's default batch (500 runs per execution).
 * The failure paths are counted too: a stage that keeps failing (its retries, then "Record failure"),
 * a NonRetryableError (no retry), and "Record failure" itself failing ("Failure not recorded").
 *
 * Distributed jobs (`wide`, single-stage at concurrency 5,000; `wide_three`, the three stages at 100)
 * run their template definition as the local runtime does (the Distributed Map as an inline Map,
 * `shared/local/workflow/inline-map.ts`), and are billed as Step Functions bills a Distributed Map
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-transitions.html): one transition
 * for every child execution the Map Run starts, plus, for Standard children (what Piko deploys), the
 * child's own states; for Express children the child's states cost no transitions but a request
 * ($1.00 per million) and its duration (64 MB, rounded up to 100 ms, $0.00001667 per GB-second),
 * computed here for a child of 1 s and of 10 s. Express children cannot run a Fargate stage
 * (`runTask.sync` is not supported in Express workflows), so the three-stage job has no Express figure.
 *
 * Run: npx tsx bench/cost.ts
 * Last line: {"bench":"cost","transitions_single_stage":…,"transitions_three_stage":…,"usd_per_million_single":…,…}
 */
// Installs the Promise.withResolvers polyfill aws-local-stepfunctions needs on Node 20.
import '../shared/local/workflow/executor.ts';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { StateMachine } from 'aws-local-stepfunctions';
import { PikoStack } from '../infra/piko-stack.ts';
import { NonRetryableError } from '../shared/errors.ts';
import { defineJob, fargate, type JobDefinition, lambda } from '../shared/job.ts';
import { toInlineMap } from '../shared/local/workflow/inline-map.ts';
import { DEFAULT_MAX_RUNS_PER_EXECUTION } from '../shared/planner/dispatch.ts';
import { jobStateMachineName } from '../shared/stack/outputs.ts';
import { definitionToAsl } from '../shared/workflow/asl-tokens.ts';
import { mapModeOf } from '../shared/workflow/map-mode.ts';
import type { ExecutionInput } from '../shared/workflow/starter.ts';

/** Step Functions Standard: USD per 1,000 state transitions (us-east-1, beyond the free tier). */
const USD_PER_THOUSAND_TRANSITIONS = 0.025;
/** Step Functions Express: USD per request (an execution started), $1.00 per million. */
const EXPRESS_USD_PER_REQUEST = 1 / 1_000_000;
/** Step Functions Express: USD per GB-second of duration (first 1,000 GB-hours a month: $0.06 per GB-hour). */
const EXPRESS_USD_PER_GB_SECOND = 0.06 / 3600;
/** The memory an Express child of Piko's is billed for: one 64 MB chunk (50 MB + definition + payload). */
const EXPRESS_BILLED_GB = 64 / 1024;
/** Express durations are rounded up to this. */
const EXPRESS_DURATION_STEP_S = 0.1;
/** Child durations the Express figure is given for (handler time plus Lambda round trips). */
const EXPRESS_CHILD_SECONDS = [1, 10] as const;
/** Lambda's default quota of concurrent executions is far below the reservation of the wide job. */
const LAMBDA_CONCURRENCY_QUOTA = 20_000;
/** The goal: transitions of one single-stage interval. */
const GOAL_SINGLE_STAGE = 2;
/** Batch sizes run and fitted. */
const BATCHES = [1, 10, 100] as const;
/** The dispatcher's default batch: the overhead of an execution is shared by this many intervals. */
const DEFAULT_BATCH = DEFAULT_MAX_RUNS_PER_EXECUTION;
const STACK_NAME = 'Piko';

const noop = async () => null;
const single = defineJob({
  id: 'single',
  schedule: { cron: '* * * * *' },
  concurrency: 10,
  handler: noop,
});
const threeStage = defineJob({
  id: 'three',
  schedule: { cron: '0 * * * *' },
  concurrency: 10,
  timeout: '20m',
  stages: [
    lambda('extract', noop),
    fargate('transform', { cpu: 1024, memoryMiB: 2048 }, noop),
    lambda('load', noop),
  ],
});
/** Above a concurrency of 40: a Distributed Map. */
const wide = defineJob({ id: 'wide', schedule: { cron: '* * * * *' }, concurrency: 5_000, handler: noop });
const wideThree = defineJob({
  id: 'wide_three',
  schedule: { cron: '0 * * * *' },
  concurrency: 100,
  timeout: '20m',
  stages: [
    lambda('extract', noop),
    fargate('transform', { cpu: 1024, memoryMiB: 2048 }, noop),
    lambda('load', noop),
  ],
});
const jobs: readonly JobDefinition[] = [single, threeStage, wide, wideThree];

// ---------------------------------------------------------------------------------------------------
// The state machines of the synthesized stack.

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Retry?: readonly { readonly ErrorEquals: readonly string[]; readonly MaxAttempts?: number }[];
  readonly ItemProcessor?: { readonly States: Record<string, AslState> };
}

interface Machine {
  readonly name: string;
  readonly type: string;
  readonly asl: string;
  /** Every state by name, those inside the Map included. */
  readonly states: ReadonlyMap<string, AslState>;
}

function synthesize(): Map<string, Machine> {
  const started = performance.now();
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new PikoStack(app, STACK_NAME, { jobs, lambdaConcurrencyQuota: LAMBDA_CONCURRENCY_QUOTA });
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, CfnResource>;
  const machines = new Map<string, Machine>();
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const name = resource.Properties?.StateMachineName as string;
    const asl = definitionToAsl(resource.Properties?.DefinitionString, (logicalId) => {
      const type = resources[logicalId]?.Type;
      if (!type) throw new Error(`no resource ${logicalId}`);
      return type;
    });
    const states = new Map<string, AslState>();
    const visit = (level: Record<string, AslState>) => {
      for (const [stateName, state] of Object.entries(level)) {
        states.set(stateName, state);
        if (state.ItemProcessor) visit(state.ItemProcessor.States);
      }
    };
    visit((JSON.parse(asl) as { States: Record<string, AslState> }).States);
    machines.set(name, {
      name,
      type: String(resource.Properties?.StateMachineType ?? 'STANDARD'),
      asl,
      states,
    });
  }
  console.log(
    `synthesized ${STACK_NAME} (${Object.keys(resources).length} resources, ${machines.size} state machines: ` +
      `${[...machines.keys()].sort().join(', ')}) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return machines;
}

// ---------------------------------------------------------------------------------------------------
// Running a definition and counting its transitions.

/** What the fake tasks do. */
interface Scenario {
  /** The stage that fails on every attempt, and with what error name. */
  readonly failStage?: { readonly stage: string; readonly error: 'Error' | 'NonRetryableError' };
  /** "Record failure" fails too (on every attempt). */
  readonly failRecord?: boolean;
  readonly lane?: ExecutionInput['lane'];
}

interface Count {
  /** Billable transitions: states entered + retries. */
  readonly transitions: number;
  readonly entered: number;
  readonly retries: number;
  /** Of `transitions`, those inside a Map iteration (a child execution's, in a Distributed Map). */
  readonly inIterations: number;
  /** Map iterations started: the child executions a Distributed Map starts. */
  readonly iterations: number;
  /** Billable transitions by state name. */
  readonly byState: ReadonlyMap<string, number>;
  /** Task handler calls by state name (each attempt one call). */
  readonly calls: ReadonlyMap<string, number>;
}

function executionInput(jobId: string, runs: number, lane: ExecutionInput['lane']): ExecutionInput {
  const start = Date.parse('2026-01-01T00:00:00Z');
  return {
    jobId,
    executionName: `${jobId}-s20260101T000000Z-0123456789abcdef`,
    lane,
    backfillId: lane === 'backfill' ? 'bf-0123456789abcdef0123' : null,
    runs: Array.from({ length: runs }, (_, index) => ({
      runId: index + 1,
      generation: 0,
      interval: {
        start: new Date(start + index * 60_000).toISOString(),
        end: new Date(start + (index + 1) * 60_000).toISOString(),
      },
    })),
  };
}

function namedError(name: string, message: string): Error {
  const error = name === 'NonRetryableError' ? new NonRetryableError(message) : new Error(message);
  error.name = name;
  return error;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

async function countTransitions(machine: Machine, runs: number, scenario: Scenario = {}): Promise<Count> {
  const calls = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  for (const [stateName, state] of machine.states) {
    if (state.Retry) retryIntervalOverrides[stateName] = 0;
    if (state.Type !== 'Task') continue;
    const stage = stateName.startsWith('Stage ') ? stateName.slice('Stage '.length) : undefined;
    const asyncInvoke = state.Resource === 'arn:aws:states:::lambda:invoke';
    const fargateTask = state.Resource === 'arn:aws:states:::ecs:runTask.sync';
    handlers[stateName] = async (): Promise<Json> => {
      bump(calls, stateName);
      if (stage !== undefined && scenario.failStage?.stage === stage) {
        throw namedError(scenario.failStage.error, `${stage} failed`);
      }
      if (stateName === 'Record failure' && scenario.failRecord) {
        throw namedError('Error', 'state store unreachable');
      }
      if (asyncInvoke) return { StatusCode: 202, Payload: '' };
      if (fargateTask) return {};
      // The stage runner's answer: the stage's (small) JSON result.
      return stage !== undefined ? { output: { from: stage } } : null;
    };
  }

  // As the local runtime runs it: a Distributed Map as the inline Map it translates to.
  const execution = new StateMachine(toInlineMap(JSON.parse(machine.asl)), {
    validationOptions: { noValidate: true },
  }).run(executionInput(machine.name, runs, scenario.lane ?? 'scheduled') as unknown as Json, {
    overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides },
  });
  const byState = new Map<string, number>();
  let entered = 0;
  let retries = 0;
  let inIterations = 0;
  let iterations = 0;
  const counting = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'MapIterationStarted') iterations++;
      if (event.type !== 'StateEntered' && event.type !== 'StateRetried') continue;
      if (event.type === 'StateEntered') entered++;
      else retries++;
      bump(byState, event.state.name);
      if (event.index !== undefined) inIterations++;
    }
  })();
  await execution.result;
  await counting;
  return { transitions: entered + retries, entered, retries, inIterations, iterations, byState, calls };
}

// ---------------------------------------------------------------------------------------------------
// Fits, figures and checks.

interface Fit {
  /** Fixed transitions per execution. */
  readonly a: number;
  /** Marginal transitions per interval. */
  readonly b: number;
  readonly points: readonly { readonly runs: number; readonly transitions: number }[];
  /** Largest |measured - fitted|. */
  readonly residual: number;
}

function fitLine(points: readonly { runs: number; transitions: number }[]): Fit {
  const n = points.length;
  const meanX = points.reduce((sum, p) => sum + p.runs, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.transitions, 0) / n;
  const sxy = points.reduce((sum, p) => sum + (p.runs - meanX) * (p.transitions - meanY), 0);
  const sxx = points.reduce((sum, p) => sum + (p.runs - meanX) ** 2, 0);
  const b = sxy / sxx;
  const a = meanY - b * meanX;
  const residual = Math.max(...points.map((p) => Math.abs(p.transitions - (a + b * p.runs))));
  return { a, b, points, residual };
}

const problems: string[] = [];
function expectEqual(what: string, actual: unknown, expected: unknown): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    problems.push(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));
const usdPerMillion = (transitionsPerInterval: number) =>
  (transitionsPerInterval * 1_000_000 * USD_PER_THOUSAND_TRANSITIONS) / 1000;
const usd = (value: number) => `$${value.toFixed(2)}`;
const perState = (count: Count) =>
  [...count.byState].map(([state, transitions]) => `${state} ${transitions}`).join(', ');

/** Billable transitions of a count: the inline Map's (every state entered and retried) by default. */
type Billing = (count: Count) => number;
const inlineBilling: Billing = (count) => count.transitions;
/** Standard children: one transition per child started, then the child's own states as usual. */
const standardChildBilling: Billing = (count) => count.transitions + count.iterations;
/** Express children: one transition per child started; the child's states are billed by duration. */
const expressChildBilling: Billing = (count) => count.transitions - count.inIterations + count.iterations;

async function successFit(
  machine: Machine,
  stages: readonly string[],
  lane: ExecutionInput['lane'],
  bill: Billing = inlineBilling,
) {
  const points: { runs: number; transitions: number }[] = [];
  let last: Count | undefined;
  for (const runs of BATCHES) {
    const count = await countTransitions(machine, runs, { lane });
    points.push({ runs, transitions: bill(count) });
    expectEqual(`${machine.name} ${lane} N=${runs}: Map iterations`, count.iterations, runs);
    expectEqual(`${machine.name} ${lane} N=${runs}: retries`, count.retries, 0);
    for (const stage of stages) {
      expectEqual(
        `${machine.name} ${lane} N=${runs}: "Stage ${stage}" calls`,
        count.calls.get(`Stage ${stage}`),
        runs,
      );
    }
    expectEqual(
      `${machine.name} ${lane} N=${runs}: "Record failure" calls`,
      count.calls.get('Record failure'),
      undefined,
    );
    expectEqual(
      `${machine.name} ${lane} N=${runs}: "Continue dispatch" calls`,
      count.calls.get('Continue dispatch'),
      lane === 'scheduled' ? 1 : undefined,
    );
    last = count;
  }
  const result = fitLine(points);
  if (result.residual > 1e-9)
    problems.push(`${machine.name} ${lane}: not linear in N (${JSON.stringify(points)})`);
  return { fit: result, last: last! };
}

/** Transitions of one failing interval: (a batch of 10 runs that all fail, less the execution's fixed overhead) / 10. */
async function failurePerInterval(machine: Machine, overhead: number, scenario: Scenario) {
  const runs = 10;
  const count = await countTransitions(machine, runs, scenario);
  return { perInterval: (count.transitions - overhead) / runs, count, runs };
}

// ---------------------------------------------------------------------------------------------------

const machines = synthesize();
const singleMachine = machines.get(jobStateMachineName(STACK_NAME, single.id));
const threeMachine = machines.get(jobStateMachineName(STACK_NAME, threeStage.id));
if (!singleMachine || !threeMachine)
  throw new Error(`state machines missing: ${[...machines.keys()].join(', ')}`);
for (const machine of [singleMachine, threeMachine])
  expectEqual(`${machine.name} type`, machine.type, 'STANDARD');

const singleStages = single.stages.map((stage) => stage.name);
const threeStages = threeStage.stages.map((stage) => stage.name);
const singleRun = await successFit(singleMachine, singleStages, 'scheduled');
const threeRun = await successFit(threeMachine, threeStages, 'scheduled');
const singleBackfill = await successFit(singleMachine, singleStages, 'backfill');

const amortised = (f: Fit) => f.b + f.a / DEFAULT_BATCH;
const singlePerInterval = amortised(singleRun.fit);
const threePerInterval = amortised(threeRun.fit);

// Distributed jobs: the same runs, billed as Standard children (deployed) and as Express children.
const wideMachine = machines.get(jobStateMachineName(STACK_NAME, wide.id));
const wideThreeMachine = machines.get(jobStateMachineName(STACK_NAME, wideThree.id));
if (!wideMachine || !wideThreeMachine)
  throw new Error(`state machines missing: ${[...machines.keys()].join(', ')}`);
for (const [job, machine] of [
  [wide, wideMachine],
  [wideThree, wideThreeMachine],
] as const) {
  expectEqual(`${machine.name} map mode`, mapModeOf(job.concurrency), 'distributed');
  const runsState = machine.states.get('Runs') as AslState & {
    ItemProcessor?: { ProcessorConfig?: unknown };
  };
  expectEqual(`${machine.name} Runs ProcessorConfig`, runsState.ItemProcessor?.ProcessorConfig, {
    Mode: 'DISTRIBUTED',
    ExecutionType: 'STANDARD',
  });
}
const wideStandard = await successFit(wideMachine, singleStages, 'scheduled', standardChildBilling);
const wideExpress = await successFit(wideMachine, singleStages, 'scheduled', expressChildBilling);
const wideThreeStandard = await successFit(wideThreeMachine, threeStages, 'scheduled', standardChildBilling);
// The same states per run as inline, one more transition per child; Express children: that one only.
expectEqual('wide, Standard children: overhead', wideStandard.fit.a, singleRun.fit.a);
expectEqual('wide, Standard children: per interval', wideStandard.fit.b, singleRun.fit.b + 1);
expectEqual('wide, Express children: per interval', wideExpress.fit.b, 1);
expectEqual('wide_three, Standard children: per interval', wideThreeStandard.fit.b, threeRun.fit.b + 1);
/** USD per interval of an Express child that runs `seconds`: its request and its billed duration. */
const expressChildUsd = (seconds: number) =>
  EXPRESS_USD_PER_REQUEST +
  Math.ceil(seconds / EXPRESS_DURATION_STEP_S - 1e-9) *
    EXPRESS_DURATION_STEP_S *
    EXPRESS_BILLED_GB *
    EXPRESS_USD_PER_GB_SECOND;
const expressUsdPerMillion = (seconds: number) =>
  usdPerMillion(amortised(wideExpress.fit)) + expressChildUsd(seconds) * 1_000_000;

// Failure paths, on top of the execution's overhead.
const attempts = single.retry.attempts;
const singleFailed = await failurePerInterval(singleMachine, singleRun.fit.a, {
  failStage: { stage: 'main', error: 'Error' },
});
const singleNonRetryable = await failurePerInterval(singleMachine, singleRun.fit.a, {
  failStage: { stage: 'main', error: 'NonRetryableError' },
});
const singleUnrecorded = await failurePerInterval(singleMachine, singleRun.fit.a, {
  failStage: { stage: 'main', error: 'Error' },
  failRecord: true,
});
const threeFailedLast = await failurePerInterval(threeMachine, threeRun.fit.a, {
  failStage: { stage: threeStages[2]!, error: 'Error' },
});
const threeFailedFargate = await failurePerInterval(threeMachine, threeRun.fit.a, {
  failStage: { stage: threeStages[1]!, error: 'Error' },
});
const recordAttempts =
  (singleMachine.states
    .get('Record failure')
    ?.Retry?.find((retry) => retry.ErrorEquals.includes('States.ALL'))?.MaxAttempts ?? 0) + 1;
expectEqual(
  'single, failing stage: "Stage main" calls per run',
  singleFailed.count.calls.get('Stage main')! / 10,
  attempts,
);
expectEqual('single, failing stage: transitions per interval', singleFailed.perInterval, attempts + 1);
expectEqual('single, NonRetryableError: transitions per interval', singleNonRetryable.perInterval, 2);
expectEqual(
  'single, unrecorded failure: transitions per interval',
  singleUnrecorded.perInterval,
  attempts + recordAttempts + 1,
);
expectEqual(
  'three, last stage failing: transitions per interval',
  threeFailedLast.perInterval,
  2 + attempts + 1,
);
expectEqual(
  'three, Fargate stage failing: transitions per interval',
  threeFailedFargate.perInterval,
  1 + attempts + 1,
);

// ---------------------------------------------------------------------------------------------------
// Report.

const describeFit = (label: string, f: Fit, last: Count) => {
  console.log(`  ${label}`);
  console.log(
    `    measured: ${f.points.map((p) => `N=${p.runs}: ${p.transitions}`).join(', ')}  →  transitions(N) = ` +
      `${round(f.a, 3)} + ${round(f.b, 3)}·N (max residual ${round(f.residual, 6)})`,
  );
  console.log(`    N=${BATCHES[BATCHES.length - 1]} by state: ${perState(last)}`);
  console.log(
    `    per execution ${round(f.a, 3)} fixed; per interval ${round(f.b, 3)} marginal, ` +
      `${round(amortised(f), 4)} with the overhead shared by a batch of ${DEFAULT_BATCH} ` +
      `(${round(f.b + f.a, 3)} for an execution of one run)`,
  );
};

console.log(
  `\nStep Functions Standard transitions of a job execution (states entered + retries), ` +
    `run locally from the template; a batch of N runs:`,
);
describeFit(
  `single-stage job "${single.id}" (${singleMachine.name}), scheduled lane`,
  singleRun.fit,
  singleRun.last,
);
describeFit(
  `three-stage job "${threeStage.id}" (${threeMachine.name}: ${threeStage.stages
    .map((stage) => `${stage.kind} ${stage.name}`)
    .join(' → ')}), scheduled lane`,
  threeRun.fit,
  threeRun.last,
);
describeFit(
  `single-stage job, backfill lane (no "Continue dispatch")`,
  singleBackfill.fit,
  singleBackfill.last,
);

const describeFailure = (label: string, failure: Awaited<ReturnType<typeof failurePerInterval>>) =>
  console.log(
    `  ${label}: ${failure.perInterval} per interval (batch of ${failure.runs}: ${failure.count.transitions} = ` +
      `${failure.count.entered} entered + ${failure.count.retries} retries; ${perState(failure.count)})`,
  );
console.log(
  `\nFailure paths (job retry attempts ${attempts}; "Record failure" up to ${recordAttempts} attempts):`,
);
describeFailure('single-stage, stage fails after its retries → Record failure', singleFailed);
describeFailure('single-stage, NonRetryableError → Record failure at once', singleNonRetryable);
describeFailure('single-stage, stage and Record failure both fail → Failure not recorded', singleUnrecorded);
describeFailure('three-stage, Fargate stage fails after its retries', threeFailedFargate);
describeFailure('three-stage, last stage fails after its retries', threeFailedLast);

console.log(
  `\nCost at $${USD_PER_THOUSAND_TRANSITIONS} per 1,000 transitions (Standard), per million intervals:`,
);
const costLine = (label: string, f: Fit) =>
  console.log(
    `  ${label}: ${usd(usdPerMillion(amortised(f)))} in batches of ${DEFAULT_BATCH} ` +
      `(marginal ${usd(usdPerMillion(f.b))}; ${usd(usdPerMillion(f.a + f.b))} if every interval ran alone)`,
  );
costLine('single-stage', singleRun.fit);
costLine('three-stage ', threeRun.fit);
console.log(
  `  single-stage intervals that all fail after retries: ${usd(usdPerMillion(singleFailed.perInterval))} per million ` +
    `(${singleFailed.perInterval} transitions)`,
);
console.log(
  `\nAbove a concurrency of 40 (a Distributed Map, run locally as its inline translation), per million intervals:`,
);
describeFit(
  `single-stage job "${wide.id}" (concurrency ${wide.concurrency}), Standard children (deployed)`,
  wideStandard.fit,
  wideStandard.last,
);
console.log(
  `    ${usd(usdPerMillion(amortised(wideStandard.fit)))} (inline: ${usd(usdPerMillion(singlePerInterval))}): ` +
    'one more transition per interval, the child execution’s start',
);
describeFit(
  `single-stage job "${wide.id}", Express children (not deployed)`,
  wideExpress.fit,
  wideExpress.last,
);
for (const seconds of EXPRESS_CHILD_SECONDS) {
  console.log(
    `    children of ${seconds} s: ${usd(expressUsdPerMillion(seconds))} = ${usd(usdPerMillion(amortised(wideExpress.fit)))} ` +
      `in transitions + ${usd(EXPRESS_USD_PER_REQUEST * 1_000_000)} in requests + ` +
      `${usd((expressChildUsd(seconds) - EXPRESS_USD_PER_REQUEST) * 1_000_000)} in duration (64 MB)`,
  );
}
describeFit(
  `three-stage job "${wideThree.id}" (concurrency ${wideThree.concurrency}), Standard children (deployed)`,
  wideThreeStandard.fit,
  wideThreeStandard.last,
);
console.log(
  `    ${usd(usdPerMillion(amortised(wideThreeStandard.fit)))} (inline: ${usd(usdPerMillion(threePerInterval))}); ` +
    'Express children cannot run its Fargate stage (runTask.sync)',
);

const goalMet = singlePerInterval <= GOAL_SINGLE_STAGE;
console.log(
  `\nGoal: at most ${GOAL_SINGLE_STAGE} transitions per single-stage interval: ${round(singlePerInterval, 4)} ` +
    `(marginal ${round(singleRun.fit.b, 3)}) — ${goalMet ? 'met' : 'NOT met'}`,
);
if (problems.length > 0) {
  console.log(`\nChecks failed:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  process.exitCode = 1;
}

console.log(
  JSON.stringify({
    bench: 'cost',
    transitions_single_stage: round(singlePerInterval, 4),
    transitions_three_stage: round(threePerInterval, 4),
    usd_per_million_single: round(usdPerMillion(singlePerInterval), 2),
    usd_per_million_three_stage: round(usdPerMillion(threePerInterval), 2),
    marginal_single_stage: round(singleRun.fit.b, 4),
    marginal_three_stage: round(threeRun.fit.b, 4),
    overhead_per_execution_single: round(singleRun.fit.a, 4),
    overhead_per_execution_three_stage: round(threeRun.fit.a, 4),
    batch: DEFAULT_BATCH,
    transitions_failed_single_stage: singleFailed.perInterval,
    usd_per_1000_transitions: USD_PER_THOUSAND_TRANSITIONS,
    goal_single_stage: GOAL_SINGLE_STAGE,
    transitions_distributed_standard_single: round(amortised(wideStandard.fit), 4),
    usd_per_million_distributed_standard_single: round(usdPerMillion(amortised(wideStandard.fit)), 2),
    transitions_distributed_standard_three_stage: round(amortised(wideThreeStandard.fit), 4),
    usd_per_million_distributed_standard_three_stage: round(
      usdPerMillion(amortised(wideThreeStandard.fit)),
      2,
    ),
    transitions_distributed_express_single: round(amortised(wideExpress.fit), 4),
    usd_per_million_distributed_express_single_1s: round(expressUsdPerMillion(1), 2),
    usd_per_million_distributed_express_single_10s: round(expressUsdPerMillion(10), 2),
    express_usd_per_million_requests: EXPRESS_USD_PER_REQUEST * 1_000_000,
    express_usd_per_gb_second: round(EXPRESS_USD_PER_GB_SECOND, 8),
  }),
);
