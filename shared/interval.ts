/** A data interval `[start, end)` between two consecutive ticks of a job's schedule, in UTC. */
export interface Interval {
  /** The tick that opens the interval (inclusive). */
  readonly start: Date;
  /** The next tick (exclusive); the interval is due when `now >= end`. */
  readonly end: Date;
}

/** An interval as it travels in JSON (events, state machine input): ISO 8601 UTC with milliseconds. */
export interface IntervalJson {
  readonly start: string;
  readonly end: string;
}

/** Serialises an interval as ISO 8601 UTC strings with milliseconds and `Z`. */
export function intervalToJson(interval: Interval): IntervalJson {
  return { start: interval.start.toISOString(), end: interval.end.toISOString() };
}
