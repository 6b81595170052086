/**
 * Invoking the deployed dispatcher Lambda from the CLI (`piko dispatch|status|pause|resume --aws`),
 * and `piko dispatch <job> --aws` itself.
 */
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { getConfig } from '../../config.ts';
import type { ControlEvent, DispatchResponse } from '../../control/events.ts';
import { DispatcherFailedError, DispatcherRefusedError, InputError } from '../../errors.ts';
import { JOB_ID_PATTERN } from '../../job.ts';
import type { CliIo } from '../io.ts';
import type { AwsFlags } from './options.ts';
import { AwsSession, resolveAwsTarget } from './session.ts';

/**
 * Error classes the dispatcher throws for a request it refuses (the class name is the Lambda's
 * `errorType`, see `functions/dispatcher.ts`): the CLI exits with 2 for them, as it does locally.
 */
export const DISPATCHER_REFUSALS: ReadonlySet<string> = new Set([
  'UnknownJobError',
  'InputError',
  'BackfillRefusedError',
]);

/**
 * Invokes the stack's dispatcher with `event` (RequestResponse) and returns its answer.
 * @throws DispatcherRefusedError (exit 2) when the dispatcher refused the request;
 *   DispatcherFailedError (exit 1) for any other `FunctionError`, or an answer that is not JSON; the
 *   errors of {@link AwsSession.outputs} and {@link AwsSession.call}.
 */
export async function invokeDispatcher<R>(session: AwsSession, event: ControlEvent): Promise<R> {
  const { dispatcherFunctionName: functionName } = await session.outputs();
  const response = await session.call(
    {
      operation: 'Lambda Invoke',
      resource: `the dispatcher function ${functionName} in ${session.target.region}`,
      permission: 'lambda:InvokeFunction',
      notFoundHint: `deploy the stack "${session.target.stackName}" again (npx cdk deploy): its dispatcher is gone`,
    },
    () =>
      session.lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'RequestResponse',
          Payload: JSON.stringify(event),
        }),
      ),
  );
  const text = response.Payload ? new TextDecoder().decode(response.Payload) : '';
  let payload: unknown;
  try {
    payload = text === '' ? null : JSON.parse(text);
  } catch {
    payload = undefined;
  }
  if (response.FunctionError) {
    const { errorType, errorMessage } = functionError(payload, text, response.FunctionError);
    if (DISPATCHER_REFUSALS.has(errorType)) {
      throw new DispatcherRefusedError(
        `The dispatcher refused ${describeEvent(event)}: ${errorMessage}`,
        errorType,
      );
    }
    throw new DispatcherFailedError(
      `The dispatcher (${functionName}) failed on ${describeEvent(event)} (${errorType}): ${errorMessage}; its CloudWatch logs have the details`,
      errorType,
    );
  }
  if (payload === undefined || payload === null || typeof payload !== 'object') {
    throw new DispatcherFailedError(
      `The dispatcher (${functionName}) answered ${describeEvent(event)} with ${JSON.stringify(text.slice(0, 200))}, not a JSON object: is the stack deployed by this version (npx cdk deploy)?`,
      'UnexpectedAnswer',
    );
  }
  return payload as R;
}

/** The error type and message of a Lambda `FunctionError` payload (`{ errorType, errorMessage }`). */
function functionError(
  payload: unknown,
  text: string,
  functionErrorKind: string,
): { errorType: string; errorMessage: string } {
  const record = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  const errorType = typeof record.errorType === 'string' ? record.errorType : functionErrorKind;
  const errorMessage =
    typeof record.errorMessage === 'string' ? record.errorMessage : text || '(no error message)';
  return { errorType, errorMessage };
}

function describeEvent(event: ControlEvent): string {
  const jobId = 'jobId' in event ? event.jobId : undefined;
  return jobId === undefined ? `"${event.action}"` : `"${event.action}" of job "${jobId}"`;
}

/** Checks a job id before sending it. @throws InputError describing a valid id. */
export function checkJobId(jobId: string): string {
  if (!JOB_ID_PATTERN.test(jobId)) {
    throw new InputError(
      `Job id ${JSON.stringify(jobId)} is not a job id (a-z first, then a-z, 0-9, _ or -, at most 40 characters)`,
    );
  }
  return jobId;
}

/** A session on the stack the flags (else the configuration) name. */
export function awsSession(flags: AwsFlags): AwsSession {
  return new AwsSession(resolveAwsTarget(flags, getConfig().aws));
}

/** `piko dispatch <job> --aws`: invokes the dispatcher as a schedule tick would and prints what it did. */
export async function dispatchOnAws(
  jobId: string,
  flags: AwsFlags & { readonly json?: boolean },
  io: CliIo,
): Promise<void> {
  checkJobId(jobId);
  const session = awsSession(flags);
  const response = await invokeDispatcher<DispatchResponse>(session, { action: 'dispatch', jobId });
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
