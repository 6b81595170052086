/**
 * Schedule math: pure functions of (cron, timezone, instant). Parses cron expressions, finds ticks
 * and walks the data intervals between them, exactly across DST changes.
 * @module
 */
export { type CompiledSchedule, compileSchedule } from './compile.ts';
export {
  describeIntervals,
  type MergedRange,
  mergeIntervals,
  overlappingIntervals,
  shortInstant,
  type TickSource,
} from './overlap.ts';
export { isValidTimezone } from './zone.ts';
