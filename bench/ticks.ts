/**
 * One year of minutely ticks in America/New_York (2026-01-01T00:00 to 2027-01-01T00:00 local), with
 * Piko's enumerator and with cron-parser's next() loop. Run: `npx tsx bench/ticks.ts`.
 * The last line printed is one JSON object for scripts.
 */
import { CronExpressionParser } from 'cron-parser';
import { compileSchedule } from '../shared/schedule/index.ts';

const CRON = '* * * * *';
const TIMEZONE = 'America/New_York';
/** 2026-01-01T00:00 and 2027-01-01T00:00 in New York (EST, UTC-5). */
const FROM = new Date('2026-01-01T05:00:00.000Z');
const TO = new Date('2027-01-01T05:00:00.000Z');
/** Minutes in the year: cron-parser's tick count, and the workload the JSON names. */
const YEAR_MINUTES = 525_600;
/** Our runs are short; the median of several evens out garbage collection. */
const OUR_RUNS = 5;

interface Run {
  readonly ticks: number;
  readonly seconds: number;
}

/** Ticks in [FROM, TO) through the planner's path: compile, then walk the intervals lazily. */
function ours(): Run {
  const started = performance.now();
  const schedule = compileSchedule(CRON, TIMEZONE);
  let intervals = 0;
  for (const _ of schedule.intervals(FROM, TO)) intervals++;
  // n intervals end at TO, which is itself a tick: the ticks in [FROM, TO) are n of them.
  return { ticks: intervals, seconds: (performance.now() - started) / 1000 };
}

function cronParser(): Run {
  const started = performance.now();
  const expression = CronExpressionParser.parse(CRON, {
    currentDate: new Date(FROM.getTime() - 60_000),
    tz: TIMEZONE,
  });
  let ticks = 0;
  while (expression.next().getTime() < TO.getTime()) ticks++;
  return { ticks, seconds: (performance.now() - started) / 1000 };
}

const perSecond = (run: Run) => run.ticks / run.seconds;
const format = (n: number) => Math.round(n).toLocaleString('en-US');

const ourRuns = Array.from({ length: OUR_RUNS }, ours);
const cold = ourRuns[0]!;
const median = [...ourRuns].sort((a, b) => a.seconds - b.seconds)[Math.floor(OUR_RUNS / 2)]!;
const reference = cronParser();
const speedup = perSecond(median) / perSecond(reference);

console.log(`ticks: ${CRON} in ${TIMEZONE}, ${FROM.toISOString()} to ${TO.toISOString()} (one local year)`);
console.log(
  `  piko        ${format(median.ticks)} ticks in ${median.seconds.toFixed(3)} s (median of ${OUR_RUNS}; ` +
    `first, cold run ${cold.seconds.toFixed(3)} s) = ${format(perSecond(median))} ticks/s`,
);
console.log(
  `  cron-parser ${format(reference.ticks)} ticks in ${reference.seconds.toFixed(3)} s = ` +
    `${format(perSecond(reference))} ticks/s`,
);
console.log(
  `  piko skips the 60 minutes that do not exist on 2026-03-08 and fires the repeated hour of 2026-11-01 ` +
    `once; cron-parser fires every UTC minute (${format(reference.ticks - median.ticks)} more ticks).`,
);
console.log(`  speedup (ticks/s): ${speedup.toFixed(1)}x`);
console.log(
  JSON.stringify({
    bench: 'ticks',
    ticks: YEAR_MINUTES,
    ours_per_s: Math.round(perSecond(median)),
    cron_parser_per_s: Math.round(perSecond(reference)),
    speedup: Number(speedup.toFixed(1)),
  }),
);
