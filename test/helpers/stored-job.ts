import type { StoredJob } from '../../shared/store/types.ts';

/** A schedule every instant is a tick of: a job's new row then starts exactly at its `start`. */
const EVERY_INSTANT = { tickAtOrAfter: (instant: Date) => instant };

/** A job as the store sees it, whose row, when the store creates it, starts at `watermark`. */
export function jobAt(id: string, watermark: Date): StoredJob {
  return { id, start: watermark, schedule: EVERY_INSTANT };
}
