import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { compileSchedule } from '../../schedule/index.ts';
import type { CliIo } from '../io.ts';
import { parseInstantFlag } from '../parse.ts';

/** `piko ticks`: prints the intervals of a schedule in a range, to check it before deploying. */
export function ticksCommand(program: Command, io: CliIo): void {
  program
    .command('ticks')
    .description('print the intervals [t(k), t(k+1)) of a cron schedule with from <= t(k) and t(k+1) <= to')
    .requiredOption('--cron <expr>', 'five-field cron expression, e.g. "30 2 * * *"')
    .option('--timezone <tz>', 'IANA timezone', 'UTC')
    .requiredOption('--from <iso>', 'range start (ISO 8601 with offset)')
    .requiredOption('--to <iso>', 'range end (ISO 8601 with offset)')
    .option('--json', 'one JSON object per line')
    .action((flags: { cron: string; timezone: string; from: string; to: string; json?: boolean }) => {
      const schedule = compileSchedule(flags.cron, flags.timezone);
      const from = parseInstantFlag('--from', flags.from);
      const to = parseInstantFlag('--to', flags.to);
      if (from > to) throw new InputError(`--from (${flags.from}) must not be after --to (${flags.to})`);
      const local = new Intl.DateTimeFormat('sv-SE', {
        timeZone: flags.timezone,
        dateStyle: 'short',
        timeStyle: 'short',
      });
      let count = 0;
      for (const interval of schedule.intervals(from, to)) {
        count++;
        const start = interval.start.toISOString();
        const end = interval.end.toISOString();
        if (flags.json) io.out(JSON.stringify({ start, end }));
        else
          io.out(
            `${start} → ${end}   (${local.format(interval.start)} → ${local.format(interval.end)} ${flags.timezone})`,
          );
      }
      if (!flags.json) io.out(`${count} interval${count === 1 ? '' : 's'}`);
    });
}
