import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { JobDefinitionError } from '../../shared/errors.ts';
import {
  defineJob,
  fargate,
  isJobDefinition,
  JOB_ID_PATTERN,
  type JobOptions,
  lambda,
} from '../../shared/job.ts';
import { defineRecord, upsertSink } from '../../shared/sinks/index.ts';
import { FuzzCounts, fuzzRuns, hostileString, isoInstant } from './arbitraries.ts';

const counts = new FuzzCounts('defineJob');
const NOW = new Date('2026-06-01T00:00:00.000Z');

/** Any JS value, odd ones included: null-prototype objects, boxed values, dates, maps, sparse arrays. */
const anything = fc.anything({
  maxDepth: 2,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
});

/** Sometimes a plausible value, sometimes a hostile string, sometimes anything at all. */
function orJunk<T>(plausible: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: plausible },
    { weight: 1, arbitrary: hostileString() },
    { weight: 1, arbitrary: anything },
  );
}

const handlerArb = fc.constant(() => null);

const cronArb = fc.oneof(
  fc.constantFrom(
    '* * * * *',
    '0 2 * * *',
    '*/15 9-17 * * MON-FRI',
    '0 0 29 2 *',
    '0 0 31 2 *',
    '0 0 1,15 * 1',
    '@daily',
  ),
  fc
    .array(
      fc.constantFrom('*', '0', '5', '59', '60', '*/0', '*/7', '1-5', '5-1', 'JAN', 'SUN', 'L', '?', '#', ''),
      {
        minLength: 4,
        maxLength: 6,
      },
    )
    .map((fields) => fields.join(' ')),
);
const timezoneArb = fc.constantFrom(
  'UTC',
  'Asia/Kathmandu',
  'America/New_York',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'US/Eastern',
  'Etc/GMT+12',
  'Mars/Olympus_Mons',
  'utc',
  '',
);
const durationArb = fc.oneof(
  fc.constantFrom('30s', '10m', '2h', '1d', '500ms', '0s', '1.5h', '-1s', '1w', '10', ' 5m '),
  fc.integer({ min: -10, max: 10_000_000_000 }),
  fc.double(),
);
const numberArb = fc.oneof(
  fc.integer({ min: -5, max: 20_000 }),
  fc.double(),
  fc.constantFrom(0, 1, 40, 41, 128, 10_240),
);
const Row = defineRecord('fuzz_row', z.object({ id: z.string() }));
const stageArb = fc.oneof(
  fc
    .tuple(orJunk(fc.constantFrom('plan', 'crunch', 'a'.repeat(31), 'Main', 'x-1')))
    .map(([name]) => lambda(name as string, () => null)),
  fc
    .record({
      name: fc.constantFrom('crunch', 'plan'),
      cpu: orJunk(fc.constantFrom(256, 1024, 300)),
      memoryMiB: orJunk(fc.constantFrom(512, 2048, 3000)),
    })
    .map(({ name, cpu, memoryMiB }) =>
      fargate(name, { cpu: cpu as number, memoryMiB: memoryMiB as number }, () => null),
    ),
  anything,
);

const VALID_CRONS = ['* * * * *', '0 2 * * *', '*/15 9-17 * * MON-FRI', '0 0 1,15 * 1', '30 2 * * *'];
const VALID_ZONES = ['UTC', 'Asia/Kathmandu', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham'];
const fakeResource = {
  kind: 'fake',
  create: async () => ({}),
  acquire: async () => 1,
  release: async () => {},
  destroy: async () => {},
};

/** Options that defineJob must accept: every field valid or absent. */
const validOptionsArb: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.record({
      id: fc.constantFrom('daily_sales', 'a', 'a'.repeat(40), 'job-1_x'),
      schedule: fc.record(
        { cron: fc.constantFrom(...VALID_CRONS), timezone: fc.constantFrom(...VALID_ZONES) },
        { requiredKeys: ['cron'] },
      ),
    }),
    fc.record(
      {
        description: fc.string(),
        start: fc.oneof(isoInstant(NOW), fc.date({ noInvalidDate: true })),
        catchup: fc.boolean(),
        catchupWindow: fc.constantFrom('400d', 40 * 86_400_000),
        misfireGraceTime: fc.constantFrom('0s', '10m', 1),
        concurrency: fc.integer({ min: 1, max: 40 }),
        retry: fc.record(
          {
            attempts: fc.integer({ min: 1, max: 100 }),
            backoff: fc.constantFrom('1ms', '30s', 0),
            rate: fc.double({ min: 1, max: 10, noNaN: true }),
            maxBackoff: fc.constantFrom('1h', 5),
          },
          { requiredKeys: [] },
        ),
        timeout: fc.constantFrom('1s', '5m', 1),
        memoryMiB: fc.integer({ min: 128, max: 10_240 }),
        maxIntervalsPerDispatch: fc.integer({ min: 1, max: 5000 }),
        config: fc.constant(z.object({ region: z.string().default('eu') })),
        resources: fc.constant({ db: fakeResource }),
        sinks: fc.constant([upsertSink(Row, { table: 'fuzz_rows', key: ['id'] })]),
      },
      { requiredKeys: [] },
    ),
    fc.oneof(
      fc.record({ handler: handlerArb }),
      fc.constant({
        stages: [lambda('plan', () => null), fargate('crunch', { cpu: 256, memoryMiB: 512 }, () => null)],
      }),
    ),
  )
  .map(([core, rest, work]) => ({ ...core, ...rest, ...work }));

/** A wrong value for a field: a near miss of the right type, a hostile string, anything, or absence. */
const junkArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.oneof(cronArb, timezoneArb, durationArb, numberArb, fc.array(stageArb, { maxLength: 3 })),
  },
  { weight: 2, arbitrary: hostileString() },
  { weight: 2, arbitrary: anything },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const KEYS = [
  'id',
  'schedule',
  'description',
  'start',
  'catchup',
  'catchupWindow',
  'misfireGraceTime',
  'concurrency',
  'retry',
  'timeout',
  'memoryMiB',
  'maxIntervalsPerDispatch',
  'config',
  'resources',
  'sinks',
  'handler',
  'stages',
];

/** Valid options with up to three fields (or sub-fields of schedule and retry) replaced by junk. */
const optionsArb: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    validOptionsArb,
    fc.array(
      fc.tuple(
        fc.constantFrom(...KEYS, 'schedule.cron', 'schedule.timezone', 'retry.attempts', 'retry.rate'),
        junkArb,
      ),
      {
        maxLength: 3,
      },
    ),
  )
  .map(([valid, mutations]) => {
    const options: Record<string, unknown> = { ...valid };
    for (const [key, value] of mutations) {
      const [outer, inner] = key.split('.') as [string, string | undefined];
      if (inner === undefined) options[outer] = value;
      else
        options[outer] = {
          ...(typeof options[outer] === 'object' ? (options[outer] as object) : {}),
          [inner]: value,
        };
    }
    return options;
  });

/** Calls defineJob and checks the contract: a frozen, branded definition, or a JobDefinitionError listing problems. */
function checkDefineJob(options: unknown): 'defined' | 'refused' {
  let job: unknown;
  try {
    job = defineJob(options as JobOptions<unknown, Record<string, never>>);
  } catch (error) {
    if (!(error instanceof JobDefinitionError)) {
      throw new Error(`defineJob threw ${(error as Error)?.name}: ${(error as Error)?.message}`, {
        cause: error,
      });
    }
    expect(error.problems.length).toBeGreaterThan(0);
    for (const problem of error.problems) {
      expect(typeof problem).toBe('string');
      expect(problem.trim()).not.toBe('');
      expect(error.message).toContain(problem);
    }
    expect(error.message).toMatch(/^Invalid job "/);
    return 'refused';
  }
  expect(isJobDefinition(job)).toBe(true);
  const defined = job as ReturnType<typeof defineJob>;
  expect(Object.isFrozen(defined)).toBe(true);
  expect(defined.id).toMatch(JOB_ID_PATTERN);
  expect(defined.stages.length).toBeGreaterThan(0);
  expect(defined.concurrency).toBeGreaterThanOrEqual(1);
  expect(defined.timeoutMs).toBeGreaterThan(0);
  return 'defined';
}

describe('defineJob with fuzzed options', () => {
  it('returns a definition or throws a JobDefinitionError listing problems, for structured options', () => {
    fc.assert(
      fc.property(optionsArb, (options) => {
        counts.tick('structured options');
        counts.tick(`  outcome: ${checkDefineJob(options)}`);
      }),
      fuzzRuns(500),
    );
  });

  it('accepts every valid combination of options', () => {
    fc.assert(
      fc.property(validOptionsArb, (options) => {
        counts.tick('valid options');
        expect(checkDefineJob(options)).toBe('defined');
      }),
      fuzzRuns(200),
    );
  });

  it('never throws anything else for any value at all', () => {
    fc.assert(
      fc.property(anything, (value) => {
        counts.tick('any value as options');
        checkDefineJob(value);
      }),
      fuzzRuns(300),
    );
  });

  it('refuses every key it does not know next to a valid core, naming each one', () => {
    const valid = { id: 'fuzz_ok', schedule: { cron: '0 * * * *' }, handler: () => null };
    const known = new Set<string>(KEYS);
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 12 }), anything, { minKeys: 1, maxKeys: 4 }),
        (extra) => {
          counts.tick('valid core plus unknown keys');
          const unknown = Object.fromEntries(Object.entries(extra).filter(([key]) => !known.has(key)));
          const options = { ...unknown, ...valid };
          if (Object.keys(unknown).length === 0) {
            expect(checkDefineJob(options)).toBe('defined');
            return;
          }
          expect(checkDefineJob(options)).toBe('refused');
          let problems: readonly string[] = [];
          try {
            defineJob(options as JobOptions<unknown, Record<string, never>>);
          } catch (error) {
            problems = (error as JobDefinitionError).problems;
          }
          for (const key of Object.keys(unknown))
            expect(
              problems.some((problem) => problem.startsWith(`unknown option ${JSON.stringify(key)}; `)),
            ).toBe(true);
        },
      ),
      fuzzRuns(200),
    );
  });
});
