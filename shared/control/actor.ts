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
