/**
 * `piko runs <job> --aws [--logs]`: the deployed stack's runs through its dispatcher (`runs`), printed
 * as the local ones are; with `--logs`, where each run's logs and execution are: the CloudWatch Logs
 * Insights query over the job's log groups and the Step Functions console link of its execution.
 */
import { backfillFromJson, type RunsResponse, runFromJson } from '../../control/run-events.ts';
import { DispatcherFailedError } from '../../errors.ts';
import type { PikoStackOutputs } from '../../stack/outputs.ts';
import { type RunAwsLinks, runAwsLinks } from '../../stack/run-links.ts';
import type { RunQuery, RunRecord } from '../../store/types.ts';
import { cliContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { historyLines, printRun, printRunsFooter, type RunsFlags } from '../runs-printer.ts';
import { checkJobId, invokeControlFunction } from './control-client.ts';
import { AwsSession, resolveAwsTarget } from './session.ts';

/** `piko runs <job> --aws`: as `piko runs`, read through the deployed dispatcher. */
export async function runsOnAws(
  jobId: string,
  query: RunQuery & { readonly limit: number },
  flags: RunsFlags,
  io: CliIo,
): Promise<void> {
  checkJobId(jobId);
  const context = await cliContext();
  const job = context.jobs.get(jobId);
  const session = new AwsSession(resolveAwsTarget(flags, context.config.aws));
  const response = await invokeControlFunction<RunsResponse>(session, {
    action: 'runs',
    jobId: job.id,
    from: query.from?.toISOString(),
    to: query.to?.toISOString(),
    statuses: query.statuses,
    limit: Math.min(query.limit + 1, 1_000),
    newestFirst: query.newestFirst,
  });
  if (!Array.isArray(response.runs)) {
    throw new DispatcherFailedError(
      'The dispatcher answered "runs" without a list of runs: is the stack deployed by this version (npx cdk deploy)?',
      'UnexpectedAnswer',
    );
  }
  const backfills = new Map(
    (response.backfills ?? []).map((json) => [json.backfillId, backfillFromJson(json)]),
  );
  const runs = response.runs.map(runFromJson);
  const more = runs.length > query.limit;
  const shown = runs.slice(0, query.limit);
  if (query.newestFirst) shown.reverse();
  const lines = await historyLines(async (id) => backfills.get(id), job, shown);
  const outputs = flags.logs ? await session.outputs() : undefined;
  for (const [i, line] of lines.entries()) {
    const links = outputs ? linksOf(outputs, shown[i]!) : undefined;
    if (flags.json) io.out(JSON.stringify(links ? { ...line, aws: links } : line));
    else {
      printRun(io, job, line);
      if (links) printAwsLinks(io, links);
    }
    if (io.ready && !(await io.ready())) return;
  }
  printRunsFooter(io, job.id, lines.length, more, query.limit);
}

function linksOf(outputs: PikoStackOutputs, run: RunRecord): RunAwsLinks {
  return runAwsLinks({
    outputs,
    jobId: run.jobId,
    runId: run.runId,
    executionName: run.executionName,
    createdAt: run.createdAt,
    finishedAt: run.finishedAt,
  });
}

/** Where a run's logs and execution are on AWS, indented under the run. */
export function printAwsLinks(io: CliIo, links: RunAwsLinks): void {
  io.out(`  execution: ${links.executionUrl ?? 'none yet (not dispatched)'}`);
  io.out(
    `  logs: CloudWatch Logs Insights (${links.insightsUrl}), log groups ${
      links.logGroups.length > 0
        ? links.logGroups.join(', ')
        : "(the stack lists none: pick the job's function and Fargate log groups)"
    }, from ${links.from} to ${links.to ?? 'now'}:`,
  );
  for (const line of links.query.split('\n')) io.out(`    ${line}`);
}
