/** How `piko backfills` prints a backfill, locally and with `--aws`. */
import type { BackfillSummaryJson } from '../control/backfills.ts';
import type { BackfillCommand } from '../planner/backfill-control.ts';
import type { CliIo } from './io.ts';

/**
 * Prints backfills, newest first: one JSON object per line with `json`, else three lines each
 * (what, progress, when and the last action); says so when there are none.
 */
export function printBackfills(io: CliIo, backfills: readonly BackfillSummaryJson[], json: boolean): void {
  if (json) {
    for (const backfill of backfills) io.out(JSON.stringify(backfill));
    return;
  }
  if (backfills.length === 0) {
    io.out('no backfills');
    return;
  }
  for (const backfill of backfills) {
    const { runs } = backfill;
    io.out(
      `${backfill.backfillId} ${backfill.jobId} ${backfill.status}: ${backfill.from} → ${backfill.to}, ` +
        `reprocess ${backfill.reprocess}${backfill.reverse ? ', reverse' : ''}, concurrency ${backfill.concurrency ?? 'the job’s'}`,
    );
    io.out(
      `  planned ${backfill.created} created, ${backfill.rerun} rerun, ${backfill.skipped} skipped; ` +
        `runs: succeeded ${runs.succeeded}, failed ${runs.failed}, running ${runs.running}, ` +
        `queued ${runs.queued}, pending ${runs.pending}, cancelled ${runs.cancelled}`,
    );
    const last = backfill.lastAction;
    io.out(
      `  created ${backfill.createdAt}, updated ${backfill.updatedAt}` +
        (last
          ? `; last action ${last.kind} by ${last.actor} at ${last.at}${last.reason ? ` (${last.reason})` : ''}`
          : '') +
        (backfill.error ? `; error: ${backfill.error}` : ''),
    );
    // A --downstream backfill on AWS: the downstream backfills that follow it, in the order they run.
    for (const next of backfill.downstream ?? []) {
      io.out(
        `  then ${next.backfillId} ${next.jobId} ${next.status}: ${next.from} → ${next.to}, reprocess all`,
      );
    }
  }
}

/** What a pause, resume or cancel did, in words. */
export function changeText(backfillId: string, command: BackfillCommand, runs: number): string {
  switch (command) {
    case 'pause':
      return `backfill ${backfillId} paused: none of its runs starts until it is resumed; running runs finish`;
    case 'cancel':
      return `backfill ${backfillId} cancelled: ${runs} pending or queued run(s) cancelled; running runs finish`;
    case 'resume':
      return `backfill ${backfillId} resumed${runs > 0 ? `: ${runs} cancelled run(s) pending again` : ''}`;
  }
}
