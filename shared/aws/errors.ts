import { PikoError } from '../errors.ts';

/**
 * An AWS call failed. The message names the service call, the Piko thing it was for and what to do;
 * `awsErrorName` keeps the service's error name (`AccessDeniedException`, …).
 */
export class AwsCallError extends PikoError {
  override name = 'AwsCallError';
  /** The AWS error name, such as `ThrottlingException`. */
  readonly awsErrorName: string;
  constructor(message: string, awsErrorName: string, options?: { cause?: unknown }) {
    super(message, options);
    this.awsErrorName = awsErrorName;
  }
}

/** AWS throttled a call even after the SDK's own retries. Transient: the next attempt may pass. */
export class AwsThrottledError extends AwsCallError {
  override name = 'AwsThrottledError';
}

/** A job's state machine does not exist: the job was added or renamed without a deploy. */
export class WorkflowNotDeployedError extends AwsCallError {
  override name = 'WorkflowNotDeployedError';
}

/** The name an AWS SDK v3 error carries (`error.name`), or `'Error'`. */
export function awsErrorName(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return 'Error';
}

/** AWS error names that mean "slow down"; the SDK retried them already. */
export const THROTTLING_ERRORS: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);
