/** `piko cancel --aws` and `piko mark --aws`: the operator actions through the deployed control function. */
import type { CancelResponse, MarkResponse } from '../../control/events.ts';
import type { CancelOutcome, MarkOutcome, MarkRequest, OperatorCall } from '../../planner/operator.ts';
import { cliContext } from '../context.ts';
import { checkJobId, invokeControlFunction } from './control-client.ts';
import type { AwsFlags } from './options.ts';
import { AwsSession, resolveAwsTarget } from './session.ts';

/** Sends `cancel` to the dispatcher; answers what it cancelled and the ECS tasks it stopped. */
export async function cancelOnAws(
  jobId: string,
  range: { readonly from: Date; readonly to: Date },
  call: OperatorCall,
  flags: AwsFlags,
): Promise<CancelOutcome & { readonly stoppedTasks?: readonly string[] }> {
  checkJobId(jobId);
  const context = await cliContext();
  const session = new AwsSession(resolveAwsTarget(flags, context.config.aws));
  const { action: _, ...outcome } = await invokeControlFunction<CancelResponse>(session, {
    action: 'cancel',
    jobId,
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    actor: call.actor,
    reason: call.reason ?? null,
  });
  return outcome;
}

/** Sends `mark` to the dispatcher; answers what it marked (or would mark). */
export async function markOnAws(
  jobId: string,
  request: MarkRequest,
  call: OperatorCall,
  flags: AwsFlags,
): Promise<MarkOutcome> {
  checkJobId(jobId);
  const context = await cliContext();
  const session = new AwsSession(resolveAwsTarget(flags, context.config.aws));
  const { action: _, ...outcome } = await invokeControlFunction<MarkResponse>(session, {
    action: 'mark',
    jobId,
    from: request.from.toISOString(),
    to: request.to.toISOString(),
    as: request.as,
    dryRun: request.dryRun ?? false,
    actor: call.actor,
    reason: call.reason ?? '',
  });
  return outcome;
}
