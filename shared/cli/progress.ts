import type { ProgressEvent } from '../local/runtime.ts';
import type { CliIo } from './io.ts';

/**
 * Prints the local runtime's progress (`piko start`, `run`, `backfill`): readable lines with the
 * time of day, or with `--json` one JSON object per line with the full time.
 */
export function progressPrinter(io: CliIo, json: boolean): (event: ProgressEvent) => void {
  return ({ event, text, fields }) => {
    const time = new Date().toISOString();
    io.out(json ? JSON.stringify({ time, event, ...fields }) : `${time.slice(11, 23)}  ${text}`);
  };
}
