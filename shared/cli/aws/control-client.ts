/**
 * The CLI's client of the deployed control function (the dispatcher Lambda, `functions/dispatcher.ts`):
 * sends it a control event and reads its answer, for `piko dispatch|status|pause|resume --aws`.
 */
import { InvokeCommand } from '@aws-sdk/client-lambda';
import type { ControlEvent } from '../../control/events.ts';
import { DispatcherFailedError, DispatcherRefusedError, InputError } from '../../errors.ts';
import { JOB_ID_PATTERN } from '../../job.ts';
import type { AwsSession } from './session.ts';

/**
 * Error classes the control function throws for a request it refuses (the class name is the Lambda's
 * `errorType`, see `functions/dispatcher.ts`): the CLI exits with 2 for them, as it does locally.
 */
export const CONTROL_REFUSALS: ReadonlySet<string> = new Set([
  'UnknownJobError',
  'InputError',
  'BackfillRefusedError',
  'JobPausedError',
  'BackfillStateError',
]);

/**
 * Invokes the stack's control function with `event` (RequestResponse) and returns its answer.
 * @throws DispatcherRefusedError (exit 2) when the dispatcher refused the request;
 *   DispatcherFailedError (exit 1) for any other `FunctionError`, or an answer that is not JSON; the
 *   errors of {@link AwsSession.outputs} and {@link AwsSession.call}.
 */
export async function invokeControlFunction<R>(session: AwsSession, event: ControlEvent): Promise<R> {
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
    if (CONTROL_REFUSALS.has(errorType)) {
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
