/**
 * What the fuzz suites throw at Piko: hostile strings (SQL fragments, 100 KB values, control
 * characters, NUL, unicode), ISO instants with odd offsets and years far from now, and a counter of
 * how many times each property ran, printed when the file ends so the figures can be quoted.
 */
import fc from 'fast-check';
import { afterAll } from 'vitest';

/** Strings known to break naive parsers, SQL, terminals or logs. */
export const HOSTILE_STRINGS: readonly string[] = [
  "'; DROP TABLE piko_runs; --",
  "Robert'); DROP TABLE piko_jobs;--",
  '" OR "1"="1',
  '1; DELETE FROM piko_backfills',
  '`id`',
  '$(rm -rf /)',
  '../../../../etc/passwd',
  '%zz',
  '%00',
  '%',
  'x'.repeat(100 * 1024),
  '2026-03-01T00:00:00Z'.repeat(5_000),
  '\u0000',
  'a\u0000b',
  '\u0007\u001b[31mred\u001b[0m',
  '\r\n\t\v\f',
  '\u202e\u2066evil\u2069',
  '\ud800',
  '\udfff\ud800',
  '日本語のジョブ',
  '👩‍💻🔥',
  'ǅ',
  '\uFEFF',
  '',
  ' ',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '-1',
  '0x10',
  'null',
  'true',
  '{"region":"eu"}',
  '[]',
  '{',
  '--help',
  '--',
  '-',
];

/** ISO 8601 texts around the edges: offsets that are not whole hours, years before 1970 and after 2100. */
export const HOSTILE_INSTANTS: readonly string[] = [
  '2026-03-01T00:00:00+05:45',
  '2026-03-01T00:00:00-09:30',
  '2026-03-01T00:00:00+14:00',
  '2026-03-01T00:00:00-12:00',
  '2026-03-01T00:00:00+23:59',
  '2026-03-01T00:00:00+24:00',
  '2026-03-01T00:00:00-00:00',
  '2026-03-01T00:00:00',
  '2026-03-01',
  '2026-03-01T00:00:00.000000001Z',
  '2026-03-01T00:00:60Z',
  '2026-03-01T24:00:00Z',
  '2026-02-29T00:00:00Z',
  '2026-02-30T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-03-08T02:30:00-05:00',
  '1969-12-31T23:59:59.999Z',
  '1970-01-01T00:00:00Z',
  '1900-01-01T00:00:00Z',
  '1582-10-10T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00+05:45',
  '2100-02-29T00:00:00Z',
  '2100-03-01T00:00:00Z',
  '2999-12-31T23:59:59Z',
  '9999-12-31T23:59:59.999Z',
  '+275760-09-13T00:00:00Z',
  '-271821-04-20T00:00:00Z',
  '+002026-03-01T00:00:00Z',
  '2026-W09-1',
  '1772323200000',
  'now',
  'yesterday',
];

/** Any of the hostile strings, or random text of every kind (binary, graphemes, ASCII). */
export function hostileString(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS, ...HOSTILE_INSTANTS) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
  );
}

/** 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the years an ISO instant of Piko's can name. */
const YEAR_0000_MS = -62_167_219_200_000;
const YEAR_10000_MS = 253_402_300_800_000;

/** An ISO 8601 offset: whole hours, odd minutes (+05:45), the ±14:00 edges and beyond them. */
export function isoOffset(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom('Z', '+00:00', '-00:00', '+05:45', '+05:30', '-09:30', '+14:00', '-12:00', '+12:45'),
    fc
      .tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
      .map(([sign, h, m]) => `${sign}${pad(h)}:${pad(m)}`),
  );
}

/** A well-formed ISO instant with an offset, years 0000–9999: mostly near `around`, some far before 1970 or after 2100. */
export function isoInstant(around: Date): fc.Arbitrary<string> {
  const near = fc.integer({
    min: around.getTime() - 400 * 86_400_000,
    max: around.getTime() + 30 * 86_400_000,
  });
  const far = fc.integer({ min: YEAR_0000_MS, max: YEAR_10000_MS - 1 });
  return fc
    .tuple(fc.oneof({ weight: 3, arbitrary: near }, { weight: 1, arbitrary: far }), isoOffset())
    .map(([ms, offset]) => withOffset(new Date(ms), offset))
    .filter((text): text is string => text !== undefined);
}

/** An instant (text) as the CLI and events take it: well-formed, hostile, or garbage. */
export function instantText(around: Date): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: isoInstant(around) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_INSTANTS) },
    { weight: 1, arbitrary: hostileString() },
  );
}

/**
 * A Date for the library API: near `around`, anywhere a Date can be (±8.64e15 ms), its exact edges, or
 * invalid.
 */
export function anyDate(around: Date): fc.Arbitrary<Date> {
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .integer({ min: around.getTime() - 200 * 86_400_000, max: around.getTime() + 5 * 86_400_000 })
        .map((ms) => new Date(ms)),
    },
    { weight: 1, arbitrary: fc.date({ noInvalidDate: false }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        new Date(-8.64e15),
        new Date(8.64e15),
        new Date(0),
        new Date(-1),
        new Date(Date.UTC(1900, 0, 1)),
        new Date(Date.UTC(2100, 2, 1)),
        new Date(Number.NaN),
      ),
    },
  );
}

/** Renders `date` in the given offset (`Z`, `+05:45`, …); undefined when the year leaves 0000–9999. */
export function withOffset(date: Date, offset: string): string | undefined {
  const sign = offset.startsWith('-') ? -1 : 1;
  const minutes = offset === 'Z' ? 0 : sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4)));
  const local = new Date(date.getTime() + minutes * 60_000);
  const year = local.getUTCFullYear();
  if (Number.isNaN(year) || year < 0 || year > 9999) return undefined;
  const day = `${String(year).padStart(4, '0')}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  return `${day}T${time}.${String(local.getUTCMilliseconds()).padStart(3, '0')}${offset}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Runs per property, printed at the end of the file as `[fuzz] <file> › <property>: <n> runs`. */
export class FuzzCounts {
  readonly #counts = new Map<string, number>();

  constructor(readonly file: string) {
    afterAll(() => {
      for (const [name, count] of this.#counts) console.log(`[fuzz] ${this.file} › ${name}: ${count} runs`);
    });
  }

  /** Counts one run of `name`. */
  tick(name: string): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1);
  }

  /** Wraps a predicate so each call counts as one run of `name`. */
  counted<A extends unknown[], R>(name: string, predicate: (...args: A) => R): (...args: A) => R {
    return (...args: A) => {
      this.tick(name);
      return predicate(...args);
    };
  }
}

/**
 * The seed of the fuzz properties that use {@link fuzzRuns}: fixed, so a failure replays exactly
 * (`PIKO_FUZZ_SEED` picks another, for exploring).
 * @default 20261201
 */
export const FUZZ_SEED = Number(process.env.PIKO_FUZZ_SEED ?? 20_261_201);

/**
 * How many times more runs each property gets: 1 in `npm test`, where the properties must stay fast
 * on a busy machine; `bench/fuzz-heavy.ts` sets `PIKO_FUZZ_SCALE` for the long version.
 * @default 1
 */
export const FUZZ_SCALE = Math.max(1, Number(process.env.PIKO_FUZZ_SCALE ?? 1) || 1);

/** fast-check options for a property: `runs` × {@link FUZZ_SCALE} runs from {@link FUZZ_SEED}. */
export function fuzzRuns(runs: number): { numRuns: number; seed: number } {
  return { numRuns: runs * FUZZ_SCALE, seed: FUZZ_SEED };
}

/** A per-test timeout that grows with {@link FUZZ_SCALE}: generous, but bounded. */
export function fuzzTimeoutMs(baseMs: number): number {
  return baseMs * FUZZ_SCALE;
}
