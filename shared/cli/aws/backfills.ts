/**
 * `piko backfills --aws` and `piko backfill pause|resume|cancel <id> --aws`: the deployed stack's
 * backfills through its control function. Resuming a cancelled backfill starts its backfill state
 * machine again (the cancel ended it) under a new execution name, with the stored request.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { BackfillChangeResponse, BackfillsResponse } from '../../control/events.ts';
import { DispatcherFailedError } from '../../errors.ts';
import type { BackfillCommand, OperatorRequest } from '../../planner/backfill-control.ts';
import { MAX_EXECUTION_NAME_LENGTH } from '../../workflow/execution-name.ts';
import { changeText, printBackfills } from '../backfill-printer.ts';
import { cliContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { awsCliError } from './aws-call.ts';
import { executionArnOf, executionConsoleUrl } from './backfill.ts';
import { checkJobId, invokeControlFunction } from './control-client.ts';
import type { AwsFlags } from './options.ts';
import { AwsSession, resolveAwsTarget } from './session.ts';

/** `piko backfills [job] --aws`: the control function's `backfills`, printed as locally. */
export async function backfillsOnAws(
  jobId: string | undefined,
  flags: AwsFlags & { readonly json?: boolean },
  io: CliIo,
): Promise<void> {
  if (jobId !== undefined) checkJobId(jobId);
  const context = await cliContext();
  const session = new AwsSession(resolveAwsTarget(flags, context.config.aws));
  const response = await invokeControlFunction<BackfillsResponse>(
    session,
    jobId === undefined ? { action: 'backfills' } : { action: 'backfills', jobId },
  );
  if (!Array.isArray(response.backfills)) {
    throw new DispatcherFailedError(
      'The dispatcher answered "backfills" without a list: is the stack deployed by this version (npx cdk deploy)?',
      'UnexpectedAnswer',
    );
  }
  printBackfills(io, response.backfills, flags.json ?? false);
}

/**
 * The name of the execution that resumes a cancelled backfill: `<backfillId>-resume-<time>` (base
 * 36 milliseconds), unique per resume, at most 80 characters.
 */
export function resumeExecutionName(backfillId: string, now: Date): string {
  return `${backfillId}-resume-${now.getTime().toString(36)}`.slice(0, MAX_EXECUTION_NAME_LENGTH);
}

/** `piko backfill pause|resume|cancel <id> --aws`. */
export async function changeBackfillOnAws(
  backfillId: string,
  command: BackfillCommand,
  request: OperatorRequest,
  flags: AwsFlags & { readonly json?: boolean },
  io: CliIo,
): Promise<void> {
  const context = await cliContext();
  const session = new AwsSession(resolveAwsTarget(flags, context.config.aws));
  const change = await invokeControlFunction<BackfillChangeResponse>(session, {
    action: `backfill-${command}`,
    backfillId,
    actor: request.actor,
    reason: request.reason ?? null,
  });
  const lines: Record<string, unknown>[] = [{ event: `backfill-${command}`, ...change }];
  // A done --downstream backfill passes the command to the downstream backfill its chain runs now.
  const passedOn =
    change.backfillId === backfillId ? '' : ` (the downstream backfill the chain of ${backfillId} runs now)`;
  io.out(
    flags.json
      ? JSON.stringify(lines[0])
      : `${changeText(change.backfillId, command, change.runs)}${passedOn}`,
  );
  if (!change.restart) return;
  const { backfillStateMachineArn: stateMachineArn } = await session.outputs();
  const name = resumeExecutionName(backfillId, new Date());
  try {
    const { executionArn } = await session.sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(change.restart) }),
    );
    const arn = executionArn ?? executionArnOf(stateMachineArn, name);
    const url = executionConsoleUrl(session.target.region, arn);
    io.out(
      flags.json
        ? JSON.stringify({
            event: 'backfill-restarted',
            backfillId,
            executionName: name,
            executionArn: arn,
            url,
          })
        : `backfill ${backfillId} started again as execution ${name}\n${url}`,
    );
  } catch (error) {
    io.err(
      `backfill ${backfillId} is resumed in the state table, but its state machine did not start: start it with piko backfill ${change.jobId} --from ${change.restart.from} --to ${change.restart.to} --aws (same request)`,
    );
    throw awsCliError(error, {
      operation: 'Step Functions StartExecution',
      resource: `the backfill state machine ${stateMachineArn}`,
      permission: 'states:StartExecution',
    });
  }
}
