import { InputError } from '../errors.ts';
import type { JobDefinition } from '../job.ts';
import type { StateStore, WatermarkReset } from '../store/types.ts';

/**
 * Moves a job's watermark back to `to` (recovery from a clock that ran ahead, see ClockSkewError):
 * the planner plans again from there. Pending and queued runs of intervals that end after `now`
 * (no handler started them) are deleted; every other run is kept (those after `now` are reported:
 * the planner will not plan their intervals again). With `dryRun`, changes nothing and
 * reports the same.
 * @throws InputError when `to` is not a tick of the job's schedule, or lies after `now`.
 */
export async function resetWatermark(
  store: StateStore,
  job: JobDefinition,
  to: Date,
  now: Date,
  dryRun: boolean,
): Promise<WatermarkReset> {
  const problems: string[] = [];
  if (to.getTime() > now.getTime()) {
    problems.push(
      `--to ${to.toISOString()} is after now (${now.toISOString()}); the watermark never passes now`,
    );
  }
  const tick = job.schedule.tickAtOrAfter(to);
  if (!tick || tick.getTime() !== to.getTime()) {
    problems.push(
      `--to ${to.toISOString()} is not a tick of "${job.schedule.cron}"; the nearest one at or after it is ${tick?.toISOString() ?? '(none)'}`,
    );
  }
  if (problems.length)
    throw new InputError(`Cannot reset the watermark of "${job.id}": ${problems.join('; ')}.`);
  return store.withJob(job, (tx) => tx.resetWatermark(to, now, dryRun));
}
