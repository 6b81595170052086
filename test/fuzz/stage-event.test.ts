/**
 * The stage runner's Lambda event, fuzzed: `parseStagePayload` and the `functions/stage-runner.ts`
 * handler itself, on a SQLite state file of its own: the Lambda's handler opens MySQL only, so the
 * test builds the same handler with the local drivers (it reads the process's config, so the
 * environment is set before it is imported).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../shared/errors.ts';
import { LOCAL_DRIVERS } from '../../shared/store/local.ts';
import { openSqliteStore } from '../../shared/store/sqlite.ts';
import { logger } from '../../shared/telemetry.ts';
import { parseStagePayload } from '../../shared/workflow/stage-event.ts';
import { jobAt } from '../helpers/stored-job.ts';
import { FuzzCounts, fuzzRuns, fuzzTimeoutMs, HOSTILE_INSTANTS, hostileString } from './arbitraries.ts';
import { snapshotSqliteFile } from './store-snapshot.ts';

const counts = new FuzzCounts('stage event');
const dataDir = mkdtempSync(join(tmpdir(), 'piko-fuzz-stage-'));
const stateFile = join(dataDir, 'piko.db');
for (const name of Object.keys(process.env))
  if (name.startsWith('PIKO_') && !name.startsWith('PIKO_TEST_')) delete process.env[name];
// A job function knows its job (PIKO_JOB_ID, set by the stack): events for other jobs are refused.
Object.assign(process.env, {
  PIKO_DATA_DIR: dataDir,
  PIKO_SQLITE__FILE: stateFile,
  PIKO_LOG_LEVEL: 'error',
  PIKO_JOB_ID: 'store_totals',
});
/** The execution the seeded runs are queued under. */
const SEEDED_EXECUTION = 'store_totals-s20260301T000000Z-0123456789abcdef';

/**
 * Runs per property in `npm test` (fixed seed, see fuzzRuns): enough to hit every branch the counts
 * print, few enough to end in seconds on a busy machine. `bench/fuzz-heavy.ts` runs 5 times more.
 */
const PURE_RUNS = 200;
const HANDLER_RUNS = 60;
/** Each test ends in about a second when the machine is quiet; this bounds it on a loaded one. */
const TEST_TIMEOUT_MS = fuzzTimeoutMs(120_000);
/** Errors that mean a check was missing and the event got deep inside before failing. */
const UNCLEAR = ['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'URIError'];

/** Runs seeded in the store: the ids the "near miss" events aim at. */
let seeded: { runId: number; start: string; end: string }[] = [];
let handler: (event: unknown) => Promise<unknown>;

const runArb = (runIds: fc.Arbitrary<number>) =>
  fc.record({
    jobId: fc.constantFrom('store_totals', 'nightly_archive', 'price_fanout', 'no_such_job'),
    runId: runIds,
    executionName: fc.constantFrom(SEEDED_EXECUTION, 'store_totals-s20260301T000000Z-0000000000000000'),
    generation: fc.constantFrom(0, 1),
  });

/** A well-formed run or fail event. */
const validEventArb = (runIds: fc.Arbitrary<number>) =>
  fc.oneof(
    fc.record({
      action: fc.constant('run'),
      stage: fc.constantFrom('main', 'plan', 'crunch', 'publish'),
      stageIndex: fc.constantFrom(0, 1, 2),
      lastStage: fc.boolean(),
      run: runArb(runIds),
    }),
    fc.record({
      action: fc.constant('fail'),
      run: runArb(runIds),
      error: fc.record({
        Error: fc.constantFrom('Error', 'States.Timeout'),
        Cause: fc.constantFrom('{"errorMessage":"x"}', 'plain'),
      }),
    }),
  );

/** A JSON value to put where a field was: hostile text, odd numbers, instants, any JSON. */
const junkJson: fc.Arbitrary<unknown> = fc.oneof(
  hostileString(),
  fc.constantFrom(...HOSTILE_INSTANTS),
  fc.constantFrom(0, -1, 1.5, 2 ** 53, -(2 ** 53), 1e308, null, true, [], {}),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Paths of the fields a near miss may break. */
const PATHS = [
  ['action'],
  ['stage'],
  ['stageIndex'],
  ['lastStage'],
  ['run'],
  ['run', 'jobId'],
  ['run', 'runId'],
  ['run', 'executionName'],
  ['run', 'generation'],
  ['error'],
  ['error', 'Cause'],
];

/** A valid event with one to three fields replaced by junk (or removed). */
const nearMissArb = (runIds: fc.Arbitrary<number>) =>
  fc
    .tuple(
      validEventArb(runIds),
      fc.array(fc.tuple(fc.constantFrom(...PATHS), fc.option(junkJson, { nil: undefined })), {
        minLength: 1,
        maxLength: 3,
      }),
    )
    .map(([event, edits]) => {
      const copy = structuredClone(event) as Record<string, unknown>;
      for (const [path, value] of edits) setPath(copy, path, value);
      return copy;
    });

/** Any event at all: JSON values, JSON text (valid or not), near misses. */
const anyEventArb = (runIds: fc.Arbitrary<number>) =>
  fc.oneof(
    { weight: 4, arbitrary: nearMissArb(runIds) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: nearMissArb(runIds).map((event) => JSON.stringify(event)) },
    { weight: 1, arbitrary: hostileString() },
  );

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node: unknown = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return;
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node !== 'object' || node === null) return;
  const last = path[path.length - 1]!;
  if (value === undefined) delete (node as Record<string, unknown>)[last];
  else (node as Record<string, unknown>)[last] = value;
}

/** The checks on a thrown error: an Error with a message, never one of the "got too deep" kinds. */
function expectClearError(error: unknown): void {
  expect(error).toBeInstanceOf(Error);
  const { name, message } = error as Error;
  expect(UNCLEAR, `${name}: ${message}`).not.toContain(name);
  expect(message.trim()).not.toBe('');
}

describe('the stage runner event, fuzzed', () => {
  beforeAll(async () => {
    const store = await openSqliteStore({ file: stateFile });
    try {
      await store.migrate();
      const starts = ['2026-03-01T00:00:00.000Z', '2026-03-01T00:05:00.000Z', '2026-03-01T00:10:00.000Z'];
      await store.withJob(jobAt('store_totals', new Date(starts[0]!)), async (tx) => {
        await tx.insertRuns(
          starts.map((start) => ({
            interval: { start: new Date(start), end: new Date(Date.parse(start) + 300_000) },
            trigger: 'schedule' as const,
          })),
        );
        const runs = await tx.runsInRange(new Date(starts[0]!), new Date('2026-03-02T00:00:00.000Z'));
        await tx.markQueued(
          runs.map((run) => run.runId),
          SEEDED_EXECUTION,
        );
      });
      seeded = (await store.listRuns('store_totals')).map((run) => ({
        runId: run.runId,
        start: run.interval.start.toISOString(),
        end: run.interval.end.toISOString(),
      }));
    } finally {
      await store.close();
    }
    const { stageRunnerHandler } = await import('../../functions/stage-runner.ts');
    handler = stageRunnerHandler(LOCAL_DRIVERS);
    logger.setLogLevel('CRITICAL');
  }, TEST_TIMEOUT_MS);

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'parseStagePayload returns a payload or throws an InputError that says what is wrong',
    () => {
      fc.assert(
        fc.property(fc.oneof(anyEventArb(fc.integer({ min: -5, max: 5 })), fc.anything()), (event) => {
          counts.tick('parseStagePayload: any value');
          let payload: ReturnType<typeof parseStagePayload>;
          try {
            payload = parseStagePayload(event);
          } catch (error) {
            expectClearError(error);
            expect(error).toBeInstanceOf(InputError);
            expect((error as Error).message).toMatch(/^stage event/);
            counts.tick('  parse outcome: refused');
            return;
          }
          counts.tick('  parse outcome: parsed');
          expect(['run', 'fail']).toContain(payload.action);
          expect(Number.isSafeInteger(payload.run.runId) && payload.run.runId > 0).toBe(true);
          expect(Number.isSafeInteger(payload.run.generation) && payload.run.generation >= 0).toBe(true);
          expect(payload.run.executionName).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
          expect(payload.run.jobId).toMatch(/^[a-z][a-z0-9_-]{0,39}$/);
          if (payload.action === 'run')
            expect(Number.isSafeInteger(payload.stageIndex) && payload.stageIndex >= 0).toBe(true);
        }),
        fuzzRuns(PURE_RUNS),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the Lambda handler, given any JSON for runs that do not exist, fails clearly and writes nothing',
    async () => {
      const before = snapshotSqliteFile(stateFile);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            anyEventArb(fc.integer({ min: 1000, max: 2 ** 40 })),
            validEventArb(fc.integer({ min: 1000, max: 2 ** 40 })),
          ),
          async (event) => {
            counts.tick('handler: any event, runs that do not exist');
            // A well-formed event for a run that does not exist is refused as the state table says.
            await expect(handler(JSON.parse(JSON.stringify(event ?? null)))).rejects.toSatisfy((error) => {
              expectClearError(error);
              counts.tick(`  handler outcome (unknown run): ${(error as Error).name}`);
              return true;
            });
            expect(snapshotSqliteFile(stateFile)).toEqual(before);
          },
        ),
        fuzzRuns(HANDLER_RUNS),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the Lambda handler, given near misses of events for existing runs, refuses bad ones before writing',
    async () => {
      const runIds = fc.constantFrom(...seeded.map((run) => run.runId));
      await fc.assert(
        fc.asyncProperty(nearMissArb(runIds), async (event) => {
          counts.tick('handler: near misses, existing runs');
          const before = snapshotSqliteFile(stateFile);
          let parsed = true;
          try {
            parseStagePayload(event);
          } catch {
            parsed = false;
          }
          let refused = false;
          try {
            await handler(event);
            counts.tick('  handler outcome (existing run): ran');
          } catch (error) {
            expectClearError(error);
            refused = (error as Error).name === 'StageEventRefusedError';
            counts.tick(`  handler outcome (existing run): ${(error as Error).name}`);
          }
          // An event the parser refuses never reaches the store; one the state table refuses writes nothing.
          if (!parsed || refused) expect(snapshotSqliteFile(stateFile)).toEqual(before);
          // Only the owner's event may touch a run: any other job, execution or generation is refused.
          const ref = (event as { run?: Record<string, unknown> }).run;
          if (
            parsed &&
            (ref?.jobId !== 'store_totals' ||
              ref?.executionName !== SEEDED_EXECUTION ||
              ref?.generation !== 0)
          ) {
            expect(refused).toBe(true);
          }
        }),
        fuzzRuns(HANDLER_RUNS),
      );
    },
    TEST_TIMEOUT_MS,
  );
});
