/**
 * `piko dispatch <job> --aws`: invokes the deployed control function as the job's schedule tick
 * does, and prints what it planned and started.
 */
import { getConfig } from '../../config.ts';
import type { DispatchResponse } from '../../control/events.ts';
import type { CliIo } from '../io.ts';
import { checkJobId, invokeControlFunction } from './control-client.ts';
import type { AwsFlags } from './options.ts';
import { AwsSession, resolveAwsTarget } from './session.ts';

/** `piko dispatch <job> --aws`: invokes the dispatcher as a schedule tick would and prints what it did. */
export async function dispatchOnAws(
  jobId: string,
  flags: AwsFlags & { readonly json?: boolean },
  io: CliIo,
): Promise<void> {
  checkJobId(jobId);
  const session = new AwsSession(resolveAwsTarget(flags, getConfig().aws));
  const response = await invokeControlFunction<DispatchResponse>(session, { action: 'dispatch', jobId });
  if (flags.json) {
    io.out(JSON.stringify(response));
    return;
  }
  for (const line of dispatchLines(response)) io.out(line);
}

/** What a dispatch did, for people. */
export function dispatchLines(response: DispatchResponse): string[] {
  const started = response.started ?? [];
  const restarted = response.restarted ?? [];
  const live = response.live ?? [];
  const lines = [
    `${response.jobId}${response.paused ? ' (paused)' : ''}: planned ${response.planned}, skipped ${response.skipped}, watermark ${response.watermark}`,
  ];
  for (const execution of started)
    lines.push(`  started ${execution.executionName} (${execution.runs} run(s))`);
  for (const name of restarted) lines.push(`  started again ${name}`);
  for (const name of live) lines.push(`  still running ${name}`);
  if (response.requeued > 0)
    lines.push(`  ${response.requeued} run(s) of ended executions put back to pending`);
  if (started.length + restarted.length + live.length === 0) lines.push('  nothing to start');
  if (response.more)
    lines.push('  more intervals are due: run piko dispatch again, or wait for the next tick');
  return lines;
}
