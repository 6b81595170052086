/** Who an operator action of the CLI is recorded as. */
import { hostname, userInfo } from 'node:os';

/** The OS user and host running the CLI: `user@host` (`unknown` for a user the OS cannot name). */
export function cliActor(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // A uid with no passwd entry (some containers): still record the host.
    user = process.env.USER ?? 'unknown';
  }
  return `${user}@${hostname()}`.slice(0, 200);
}
