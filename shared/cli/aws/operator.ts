/** `piko cancel --aws` and `piko mark --aws`: the operator actions through the deployed control function. */
import type { CancelResponse, MarkResponse } from '../../control/events.ts';
import type { CancelOutcome, MarkOutcome, MarkRequest, OperatorCall } from '../../planner/operator.ts';
import { cliContext } from '../context.ts';
import { checkJobId, invokeControlFunction } from './control-client.ts';
import type { AwsFlags } from './options.ts';
import { AwsSession, resolveAwsTarget } from './session.ts';

/** What `cancel` answers: what it cancelled, and the ECS tasks it stopped. */
export type AwsCancelOutcome = CancelOutcome & { readonly stoppedTasks?: readonly string[] };

/** Sends `cancel` to the dispatcher; answers what it cancelled and the ECS tasks it stopped. */
export async function cancelOnAws(
  jobId: string,
  range: { readonly from: Date; readonly to: Date },
  call: OperatorCall,
  flags: AwsFlags,
): Promise<AwsCancelOutcome> {
  checkJobId(jobId);
  return sendCancel(await sessionOf(flags), jobId, range, call);
}

/** Sends `mark` to the dispatcher; answers what it marked (or would mark). */
export async function markOnAws(
  jobId: string,
  request: MarkRequest,
  call: OperatorCall,
  flags: AwsFlags,
): Promise<MarkOutcome> {
  checkJobId(jobId);
  return sendMark(await sessionOf(flags), jobId, request, call);
}

/** `cancel` through the stack's dispatcher (the CLI's and `piko ui --aws`'s). */
export async function sendCancel(
  session: AwsSession,
  jobId: string,
  range: { readonly from: Date; readonly to: Date },
  call: OperatorCall,
): Promise<AwsCancelOutcome> {
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

/** `mark` through the stack's dispatcher (the CLI's and `piko ui --aws`'s). */
export async function sendMark(
  session: AwsSession,
  jobId: string,
  request: MarkRequest,
  call: OperatorCall,
): Promise<MarkOutcome> {
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

async function sessionOf(flags: AwsFlags): Promise<AwsSession> {
  const context = await cliContext();
  return new AwsSession(resolveAwsTarget(flags, context.config.aws));
}
