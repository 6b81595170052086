/**
 * How a command that ends by itself (`piko start --once`, `piko backfill`) gives up on a state store
 * that stays unavailable, rather than wait for it for ever with its stages held.
 */
import { ExitCodeError, type StoreError, StoreUnavailableError } from '../errors.ts';
import { type CliIo, EXIT } from './io.ts';

/**
 * A job's planning or dispatch, or the leases' heartbeat, gives up after this many store failures in
 * a row: about a minute of backoff (1 + 2 + 4 + 8 + 16 + 30 s), so a database failover or a short
 * outage (30 s or so) is waited out, while a store that stays down still ends the command with a
 * message. Five (15 s) was too few once leased batches stop and re-dispatch during an outage.
 */
export const ONCE_MAX_STORE_FAILURES = 7;

/**
 * Prints why the command gave up on the store and what becomes of the runs it could not record
 * (`resumedBy`: what runs them again), then ends it with exit code 1.
 */
export function giveUpOnStore(io: CliIo, error: StoreError, resumedBy: string): never {
  io.err(`error: ${error.message}`);
  if (error instanceof StoreUnavailableError) {
    // Nothing is lost by giving up: the state table is the truth, and the next run repairs it.
    io.err(
      `piko gave up: the state store stayed unavailable. Runs it could not record are left in flight and run again ${resumedBy}, once the store is back.`,
    );
  }
  throw new ExitCodeError(EXIT.runsFailed);
}
