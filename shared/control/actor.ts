/** Who an operator action is recorded under (DESIGN.md §8). */
import os from 'node:os';

/** Longest actor a record keeps (`piko_actions.actor`). */
const MAX_ACTOR_LENGTH = 200;

/**
 * The OS user and host of this process, `user@host`, optionally after a channel
 * (`ui: user@host`): who a CLI or UI action is recorded under.
 * @param channel what the action came through. @default none (the CLI)
 */
export function localActor(channel?: string): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username || user;
  } catch {
    // No passwd entry for this uid (a container): keep "unknown".
  }
  const who = `${user}@${os.hostname()}`;
  return (channel ? `${channel}: ${who}` : who).slice(0, MAX_ACTOR_LENGTH);
}

/** Whether `value` can be recorded as who asked: a string of 1 to 200 characters. */
export function isActor(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ACTOR_LENGTH;
}
