/**
 * The AWS calls of the `--aws` CLI, and the mapping of the AWS SDK's errors to Piko's (the classes are
 * in `shared/errors.ts`; their `exitCode` is what the CLI ends with: 2 for credentials and missing
 * resources, which the user must fix, 1 for AWS failing or refusing, where retrying may help).
 */

import {
  AwsCallError,
  AwsCredentialsError,
  AwsResourceNotFoundError,
  AwsThrottledError,
  awsErrorName,
  THROTTLING_ERRORS,
} from '../../errors.ts';

/** Attempts the CLI's AWS clients make per call (the first and the retries), `standard` retry mode. */
export const AWS_CLI_MAX_ATTEMPTS = 5;

/** One AWS call the CLI makes, for messages: what it is, on what, and the IAM action it needs. */
export interface AwsCall {
  /** Service and operation, such as `Step Functions StartExecution`. */
  readonly operation: string;
  /** The resource, such as `state machine arn:aws:states:…` or `stack "Piko" in eu-west-1`. */
  readonly resource: string;
  /** The IAM action the caller needs, such as `states:StartExecution`. */
  readonly permission: string;
  /** What to do when the resource does not exist. @default 'deploy the stack (npx cdk deploy)' */
  readonly notFoundHint?: string;
}

/** Error names of an identity that has no credentials or whose credentials AWS rejects. */
const CREDENTIAL_ERRORS: ReadonlySet<string> = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
]);
/** Error names of a call AWS refused for lack of permission. */
const ACCESS_DENIED_ERRORS: ReadonlySet<string> = new Set(['AccessDenied', 'AccessDeniedException']);
/** Error names of a resource that does not exist. */
const NOT_FOUND_ERRORS: ReadonlySet<string> = new Set([
  'ResourceNotFoundException',
  'StateMachineDoesNotExist',
  'ExecutionDoesNotExist',
]);

/**
 * The CLI error for an AWS SDK error thrown by `call`: throttling, credentials, access denied and
 * missing resources get a message that says what to do; anything else names the call and the error.
 */
export function awsCliError(error: unknown, call: AwsCall): Error {
  const name = awsErrorName(error);
  const detail = error instanceof Error && error.message ? error.message : name;
  const what = `${call.operation} on ${call.resource}`;
  if (THROTTLING_ERRORS.has(name)) {
    return new AwsThrottledError(
      `${what} was throttled by AWS (${name}) after ${AWS_CLI_MAX_ATTEMPTS} attempts: wait a minute and run the command again`,
      name,
      { cause: error },
    );
  }
  if (CREDENTIAL_ERRORS.has(name)) {
    return new AwsCredentialsError(
      `No usable AWS credentials for ${what} (${name}: ${detail}): sign in (aws sso login, or aws configure) and set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
      name,
      { cause: error },
    );
  }
  if (ACCESS_DENIED_ERRORS.has(name)) {
    return new AwsCallError(
      `AWS denied ${what} (${name}): the caller needs ${call.permission} on it (docs/aws.md, "Permissions of the CLI"); AWS said: ${detail}`,
      name,
      { cause: error },
    );
  }
  if (NOT_FOUND_ERRORS.has(name)) {
    return new AwsResourceNotFoundError(
      `${what} failed: it does not exist (${name}); ${call.notFoundHint ?? 'deploy the stack (npx cdk deploy)'}`,
      name,
      { cause: error },
    );
  }
  return new AwsCallError(`${what} failed (${name}): ${detail}`, name, { cause: error });
}
