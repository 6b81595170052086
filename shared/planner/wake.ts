/**
 * When a job's workflow should wake the dispatcher again (DESIGN.md §4, "requeued runs"): a run put
 * back to pending with a delay (its store connection was lost) is dispatchable only after its
 * `notBefore`, and on AWS nothing but the next tick would look at it then, which for a daily job is a
 * day away. So the last step of a scheduled execution, which asks the dispatcher to `continue`, gets
 * back `wakeAt` and waits until then (a Wait state), then asks again; the definition bounds the loop
 * ({@link MAX_WAKES}) and this function bounds each wait ({@link MAX_WAKE_WAIT_MS}).
 */

/** The longest one wait of a job workflow for its requeued runs (the requeue delay tops out at 10 min). */
export const MAX_WAKE_WAIT_MS = 3_600_000;
/**
 * How many times one execution waits and asks to continue again at most, so it never runs for ever
 * (a Standard execution may run a year and hold 25,000 events; this loop takes 4 a round).
 */
export const MAX_WAKES = 24;

/** What {@link wakeAt} decides from. */
export interface WakeInput {
  /** The dispatcher's clock. */
  readonly now: Date;
  /**
   * When the first delayed run of the scheduled lane is due; undefined when none is, or when an
   * execution of the lane is live or was started (its own last step looks again when it ends).
   */
  readonly delayedUntil: Date | undefined;
  /** The job's next schedule tick after `now`, which dispatches the job anyway; undefined when none. */
  readonly nextTick: Date | undefined;
  /** The longest wait. @default MAX_WAKE_WAIT_MS */
  readonly maxWaitMs?: number;
}

/**
 * The instant to wake at, or undefined when nothing needs waking for: no run is delayed, something
 * else looks at the job first (a live execution's end, or the next tick at or before the delay's
 * end). A delay longer than `maxWaitMs` is cut to it (the dispatcher, asked again then, answers
 * the next wait). Never before `now`.
 */
export function wakeAt(input: WakeInput): Date | undefined {
  const { now, delayedUntil, nextTick } = input;
  if (delayedUntil === undefined) return undefined;
  if (nextTick !== undefined && nextTick.getTime() <= delayedUntil.getTime()) return undefined;
  const maxWaitMs = input.maxWaitMs ?? MAX_WAKE_WAIT_MS;
  const at = Math.min(delayedUntil.getTime(), now.getTime() + maxWaitMs);
  return new Date(Math.max(at, now.getTime()));
}
