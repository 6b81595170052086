/**
 * The CLI in process (`runCli`), fuzzed with random argv for `ticks`, `backfill`, `run`, `status` and
 * `pause`. The config is the process's (`getConfig()` loads it once), so the environment points it at a
 * temporary SQLite file and the fuzz jobs before the first command runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../shared/cli/program.ts';
import { parseIsoInstant } from '../../shared/job.ts';
import {
  FuzzCounts,
  fuzzRuns,
  fuzzTimeoutMs,
  HOSTILE_INSTANTS,
  hostileString,
  instantText,
  isoOffset,
  withOffset,
} from './arbitraries.ts';
import { snapshotSqliteFile } from './store-snapshot.ts';

const counts = new FuzzCounts('cli');
const dataDir = mkdtempSync(join(tmpdir(), 'piko-fuzz-cli-'));
const stateFile = join(dataDir, 'piko.db');
/** Backfills accepted by the CLI stay this small, so each runs in well under a second. */
const MAX_BACKFILL_INTERVALS = 12;
for (const name of Object.keys(process.env))
  if (name.startsWith('PIKO_') && !name.startsWith('PIKO_TEST_')) delete process.env[name];
Object.assign(process.env, {
  PIKO_DATA_DIR: dataDir,
  PIKO_SQLITE__FILE: stateFile,
  PIKO_JOBS_DIR: 'test/fixtures/fuzz-jobs',
  PIKO_LOG_LEVEL: 'error',
  PIKO_MAX_BACKFILL_INTERVALS: String(MAX_BACKFILL_INTERVALS),
});

/** The CLI reads the wall clock; the instants are drawn around it. */
const NOW = new Date();
const HOUR_MS = 3_600_000;

interface Result {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

async function cli(argv: readonly string[]): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out, err };
}

const jobArg = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('fuzz_daily', 'fuzz_kathmandu') },
  { weight: 1, arbitrary: fc.constantFrom('unknown_job', 'FUZZ_DAILY', 'fuzz_daily ', '') },
  { weight: 1, arbitrary: hostileString() },
);
const configArg = fc.oneof(
  fc.constantFrom('{"region":"eu"}', '{"region":"us"}', '{"region":"mars"}', '{}', 'null', '[]', '{', '"eu"'),
  hostileString(),
  fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)),
);
/** An instant near now, in a random offset: the CLI's own clock decides whether it is in the future. */
const nearNow = fc
  .tuple(fc.integer({ min: -40 * 24, max: 48 }), fc.integer({ min: 0, max: 59 }), isoOffset())
  .map(([hours, minutes, offset]) =>
    withOffset(new Date(NOW.getTime() + hours * HOUR_MS + minutes * 60_000), offset),
  )
  .filter((text): text is string => text !== undefined);
const instantArg = fc.oneof({ weight: 3, arbitrary: nearNow }, { weight: 1, arbitrary: instantText(NOW) });
/** An instant the CLI refuses to parse: for `ticks`, whose range has no bound, only bad or nearby values. */
const unparsableInstant = fc
  .oneof(fc.constantFrom(...HOSTILE_INSTANTS), hostileString())
  .filter((text) => !parseIsoInstant(text));

/** `--flag value` pairs and lone flags, each maybe left out; shuffled with junk tokens. */
function argvOf(
  command: string,
  positional: fc.Arbitrary<string[]>,
  flags: Record<string, fc.Arbitrary<string | true>>,
) {
  const flagArbs = Object.entries(flags).map(([flag, value]) =>
    fc.option(
      value.map((v) => (v === true ? [flag] : [flag, v])),
      { nil: undefined },
    ),
  );
  const junk = fc.array(
    fc.oneof(
      fc.constantFrom('--nope', '--from', '--json', '-x', '--', '--help', '--dry-run=yes'),
      hostileString(),
    ),
    { maxLength: 2 },
  );
  return fc
    .tuple(
      positional,
      fc.tuple(...flagArbs),
      fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: junk }),
    )
    .map(([args, options, extra]) => [command, ...args, ...options.flatMap((pair) => pair ?? []), ...extra]);
}

const ticksArgv = fc
  .oneof(
    // A range of at most a few days: printable whatever the cron.
    fc.tuple(nearNow, fc.integer({ min: -24, max: 72 }), isoOffset()).map(([from, hours, offset]) => {
      const to = withOffset(new Date(parseIsoInstant(from)!.getTime() + hours * HOUR_MS), offset) ?? from;
      return [from, to];
    }),
    fc.tuple(unparsableInstant, instantArg),
    fc.tuple(instantArg, unparsableInstant),
  )
  .chain(([from, to]) =>
    argvOf('ticks', fc.constant([]), {
      '--cron': fc.oneof(
        fc.constantFrom('* * * * *', '*/15 * * * *', '30 2 * * *', '0 0 29 2 *', '61 * * * *', '* * *'),
        hostileString(),
      ),
      '--timezone': fc.oneof(
        fc.constantFrom('UTC', 'Asia/Kathmandu', 'America/New_York', 'Mars/Base'),
        hostileString(),
      ),
      '--from': fc.constant(from),
      '--to': fc.constant(to),
      '--json': fc.constant(true),
    }),
  );
const backfillArgv = argvOf(
  'backfill',
  jobArg.map((job) => [job]),
  {
    '--from': instantArg,
    '--to': instantArg,
    '--reprocess': fc.oneof(fc.constantFrom('missing', 'failed', 'all', 'ALL', 'none'), hostileString()),
    '--dry-run': fc.constant(true),
    '--reverse': fc.constant(true),
    '--config': configArg,
    '--json': fc.constant(true),
  },
);
/** A backfill that may well be accepted: a recent range of a real job, valid flags, sometimes too long. */
const plausibleBackfillArgv = fc
  .tuple(
    fc.constantFrom('fuzz_daily', 'fuzz_kathmandu'),
    fc.integer({ min: 1, max: 40 * 24 }),
    fc.integer({ min: -2, max: 300 }),
    isoOffset(),
    fc.subarray(['--dry-run', '--reverse', '--json']),
    fc.constantFrom(
      [],
      ['--config', '{"region":"eu"}'],
      ['--config', '{"region":"us"}'],
      ['--reprocess', 'all'],
    ),
  )
  .map(([job, hoursBack, span, offset, flags, extra]) => {
    const from = new Date(NOW.getTime() - hoursBack * HOUR_MS);
    const to = new Date(from.getTime() + span * HOUR_MS);
    return [
      'backfill',
      job,
      '--from',
      withOffset(from, offset)!,
      '--to',
      withOffset(to, offset)!,
      ...flags,
      ...extra,
    ];
  });
const runArgv = argvOf(
  'run',
  jobArg.map((job) => [job]),
  {
    '--at': instantArg,
    '--config': configArg,
    '--json': fc.constant(true),
  },
);
const statusArgv = argvOf(
  'status',
  fc.option(jobArg, { nil: undefined }).map((job) => (job === undefined ? [] : [job])),
  {
    '--json': fc.constant(true),
  },
);
const pauseArgv = argvOf(
  'pause',
  jobArg.map((job) => [job]),
  {},
);
const otherArgv: fc.Arbitrary<string[]> = fc.oneof(
  fc.constant<string[]>([]),
  fc.array(hostileString(), { minLength: 1, maxLength: 3 }),
  fc.constantFrom<string[]>(['--help'], ['nope'], ['backfill'], ['run'], ['ticks', '--cron']),
);

const argvArb: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 2, arbitrary: ticksArgv },
  { weight: 2, arbitrary: backfillArgv },
  { weight: 2, arbitrary: plausibleBackfillArgv },
  { weight: 2, arbitrary: runArgv },
  { weight: 1, arbitrary: statusArgv },
  { weight: 1, arbitrary: pauseArgv },
  { weight: 1, arbitrary: otherArgv },
);

/**
 * Commands per `npm test` run (fixed seed, see fuzzRuns): each runs the CLI with a SQLite store, so
 * the count, not the machine's load, bounds the time; `bench/fuzz-heavy.ts`-style scaling with
 * PIKO_FUZZ_SCALE runs more.
 */
const CLI_RUNS = 200;

describe('the CLI with fuzzed arguments', () => {
  beforeAll(async () => {
    // Creates and migrates the store, so "unchanged" compares two migrated states.
    const { code } = await cli(['status']);
    expect(code).toBe(0);
  });

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'exits 0, 1 or 2; bad input exits 2 with a message on stderr and leaves the store as it was',
    async () => {
      await fc.assert(
        fc.asyncProperty(argvArb, async (argv) => {
          counts.tick('runCli: random argv');
          const before = snapshotSqliteFile(stateFile);
          const { code, out, err } = await cli(argv);
          const command = ['ticks', 'backfill', 'run', 'status', 'pause'].includes(argv[0] ?? '')
            ? argv[0]
            : '(other)';
          counts.tick(`  ${command} exit ${code}`);
          expect([0, 1, 2]).toContain(code);
          if (code === 2) {
            expect(err.join('\n').trim(), `stderr of ${JSON.stringify(argv).slice(0, 300)}`).not.toBe('');
            expect(snapshotSqliteFile(stateFile)).toEqual(before);
          }
          const help = out[0]?.startsWith('Usage:') ?? false;
          if (code === 0 && !help && argv.includes('--json') && ['status', 'ticks'].includes(argv[0]!)) {
            for (const line of out) expect(() => JSON.parse(line)).not.toThrow();
          }
        }),
        fuzzRuns(CLI_RUNS),
      );
    },
    fuzzTimeoutMs(240_000),
  );
});
