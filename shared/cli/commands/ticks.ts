import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import type { Interval } from '../../interval.ts';
import { compileSchedule } from '../../schedule/index.ts';
import type { CliIo } from '../io.ts';
import { parseInstantFlag } from '../parse.ts';

/** Intervals printed when `--limit` is not given. */
export const DEFAULT_TICKS_LIMIT = 1_000;
/**
 * Intervals counted beyond `--limit` to say how many more there are. Counting runs at about 6 million
 * intervals a second: a million is a fraction of a second, where counting 100 years of minutes
 * (52 million) exactly would take seconds; beyond it the notice says "more than".
 */
export const MAX_COUNTED_BEYOND_LIMIT = 1_000_000;

interface TicksFlags {
  readonly cron: string;
  readonly timezone: string;
  readonly from: string;
  readonly to: string;
  readonly limit: string;
  readonly json?: boolean;
}

/** `piko ticks`: prints the intervals of a schedule in a range, to check it before deploying. */
export function ticksCommand(program: Command, io: CliIo): void {
  program
    .command('ticks')
    .description('print the intervals [t(k), t(k+1)) of a cron schedule with from <= t(k) and t(k+1) <= to')
    .requiredOption('--cron <expr>', 'five-field cron expression, e.g. "30 2 * * *"')
    .option('--timezone <tz>', 'IANA timezone', 'UTC')
    .requiredOption('--from <iso>', 'range start (ISO 8601 with offset)')
    .requiredOption('--to <iso>', 'range end (ISO 8601 with offset)')
    .option(
      '--limit <n>',
      'print at most n intervals; stderr says how many more there are',
      String(DEFAULT_TICKS_LIMIT),
    )
    .option('--json', 'one JSON object per line')
    .action(async (flags: TicksFlags) => {
      const schedule = compileSchedule(flags.cron, flags.timezone);
      const from = parseInstantFlag('--from', flags.from);
      const to = parseInstantFlag('--to', flags.to);
      const limit = parseLimit(flags.limit);
      if (from > to) throw new InputError(`--from (${flags.from}) must not be after --to (${flags.to})`);
      const local = new Intl.DateTimeFormat('sv-SE', {
        timeZone: flags.timezone,
        dateStyle: 'short',
        timeStyle: 'short',
      });
      const line = (interval: Interval) => {
        const start = interval.start.toISOString();
        const end = interval.end.toISOString();
        return flags.json
          ? JSON.stringify({ start, end })
          : `${start} → ${end}   (${local.format(interval.start)} → ${local.format(interval.end)} ${flags.timezone})`;
      };

      const intervals = schedule.intervals(from, to);
      let shown = 0;
      for (const interval of intervals) {
        if (shown === limit) {
          // Text mode ends stdout with its count line; the notice goes to stderr so pipes stay clean.
          if (!flags.json) io.out(countLine(shown));
          io.err(moreNotice(1 + countUpTo(intervals, MAX_COUNTED_BEYOND_LIMIT - 1), limit));
          return;
        }
        io.out(line(interval));
        shown++;
        // Waits while a slow reader catches up; stops quietly when it has gone (`| head`).
        if (io.ready && !(await io.ready())) return;
      }
      if (!flags.json) io.out(countLine(shown));
    });
}

function parseLimit(text: string): number {
  const limit = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new InputError(`--limit must be a positive integer, got ${JSON.stringify(text)}`);
  return limit;
}

/** Advances `iterator` by at most `max` items and returns how many it took. */
function countUpTo(iterator: Iterator<unknown>, max: number): number {
  let count = 0;
  while (count < max && !iterator.next().done) count++;
  return count;
}

function countLine(count: number): string {
  return `${count} interval${count === 1 ? '' : 's'}`;
}

function moreNotice(more: number, limit: number): string {
  const howMany =
    more >= MAX_COUNTED_BEYOND_LIMIT
      ? `more than ${(MAX_COUNTED_BEYOND_LIMIT - 1).toLocaleString('en-US')}`
      : more.toLocaleString('en-US');
  return `… ${howMany} more interval${more === 1 ? '' : 's'} not shown (--limit ${limit}); raise --limit or narrow --from/--to`;
}
