/**
 * Where the interval page finds a run's logs: the local runtime's run log files (read from the data
 * directory of this machine), or, for `piko ui --aws`, the CloudWatch Logs Insights query and the
 * Step Functions execution link of the run.
 */
import type { JobDefinition } from '../job.ts';
import type { RunAwsLinks } from '../stack/run-links.ts';
import { type RunLogLine, readRunLog } from '../store/run-logs.ts';
import type { RunRecord } from '../store/types.ts';

/** A run's logs as the interval page shows them. */
export type RunLogsView =
  | {
      readonly kind: 'lines';
      /** The file they were read from. */
      readonly path: string;
      /** Undefined when there is no file (no line yet, removed by the total bound, or run on another machine). */
      readonly lines: readonly RunLogLine[] | undefined;
      readonly truncated: boolean;
    }
  | { readonly kind: 'aws'; readonly links: RunAwsLinks };

/** Reads a run's logs for its interval page. */
export interface RunLogSource {
  read(job: JobDefinition, run: RunRecord): Promise<RunLogsView>;
}

/** Lines shown at most on a page (the newest); a run's file is bounded anyway by `[logs] max_run_bytes`. */
export const MAX_PAGE_LOG_LINES = 2_000;

/** The run log files under `dataDir` (`[piko] data_dir`). */
export function localRunLogs(dataDir: string): RunLogSource {
  return {
    async read(job, run) {
      const log = await readRunLog(dataDir, job.id, run.runId);
      return {
        kind: 'lines',
        path: log.path,
        lines: log.lines?.slice(-MAX_PAGE_LOG_LINES),
        truncated: log.truncated,
      };
    },
  };
}
