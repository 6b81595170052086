/**
 * Where the `--aws` CLI acts: the region and stack (flags, else configuration), the AWS clients (with
 * the CLI's retry policy) and the stack's outputs, read once with CloudFormation `DescribeStacks`.
 */
import {
  CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { AwsSettings } from '../../config.ts';
import { AwsTargetError, awsErrorName, StackNotFoundError, StackOutputsError } from '../../errors.ts';
import {
  AWS_REGION_PATTERN,
  type PikoStackOutputs,
  parseStackOutputs,
  STACK_NAME_PATTERN,
} from '../../stack/outputs.ts';
import { AWS_CLI_MAX_ATTEMPTS, type AwsCall, awsCliError } from './aws-call.ts';
import type { AwsFlags } from './options.ts';

/** The stack the CLI acts on. */
export interface AwsTarget {
  readonly region: string;
  readonly stackName: string;
}

/**
 * The region and stack name: `--region` and `--stack-name`, else the configuration's `aws.region`
 * (settings.toml, PIKO_AWS__REGION, else AWS_REGION) and `aws.stack_name` (default 'Piko').
 * @throws AwsTargetError when there is no region, or a flag is not a region or a stack name.
 */
export function resolveAwsTarget(flags: AwsFlags, config: AwsSettings): AwsTarget {
  if (flags.region !== undefined && !AWS_REGION_PATTERN.test(flags.region)) {
    throw new AwsTargetError(
      `--region ${JSON.stringify(flags.region)} is not an AWS region such as eu-west-1`,
    );
  }
  if (flags.stackName !== undefined && !STACK_NAME_PATTERN.test(flags.stackName)) {
    throw new AwsTargetError(
      `--stack-name ${JSON.stringify(flags.stackName)} is not a CloudFormation stack name (a letter, then letters, digits or hyphens; at most 128 characters)`,
    );
  }
  const region = flags.region ?? config.region;
  if (region === undefined) {
    throw new AwsTargetError(
      'No AWS region for --aws: pass --region (such as eu-west-1), or set region in the [aws] section of settings.toml, PIKO_AWS__REGION or AWS_REGION',
    );
  }
  return { region, stackName: flags.stackName ?? config.stackName };
}

/**
 * The configuration of every AWS client of the CLI: its region, and the SDK's `standard` retry mode
 * with {@link AWS_CLI_MAX_ATTEMPTS} attempts, so throttling and transient errors are retried with
 * backoff before the CLI reports them. `AWS_ENDPOINT_URL` (LocalStack) is honoured by the SDK itself.
 */
export function awsClientConfig(region: string): {
  region: string;
  maxAttempts: number;
  retryMode: 'standard';
} {
  return { region, maxAttempts: AWS_CLI_MAX_ATTEMPTS, retryMode: 'standard' };
}

/** The clients and outputs of one CLI command against one stack; clients are created on first use. */
export class AwsSession {
  readonly target: AwsTarget;
  #cloudFormation?: CloudFormationClient;
  #sfn?: SFNClient;
  #lambda?: LambdaClient;
  #scheduler?: SchedulerClient;
  #outputs?: Promise<PikoStackOutputs>;

  constructor(target: AwsTarget) {
    this.target = target;
  }

  get cloudFormation(): CloudFormationClient {
    this.#cloudFormation ??= new CloudFormationClient(awsClientConfig(this.target.region));
    return this.#cloudFormation;
  }

  get sfn(): SFNClient {
    this.#sfn ??= new SFNClient(awsClientConfig(this.target.region));
    return this.#sfn;
  }

  get lambda(): LambdaClient {
    this.#lambda ??= new LambdaClient(awsClientConfig(this.target.region));
    return this.#lambda;
  }

  get scheduler(): SchedulerClient {
    this.#scheduler ??= new SchedulerClient(awsClientConfig(this.target.region));
    return this.#scheduler;
  }

  /** Runs one AWS call; its errors become CLI errors with a message saying what to do ({@link awsCliError}). */
  async call<T>(call: AwsCall, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw awsCliError(error, call);
    }
  }

  /**
   * The stack's outputs (read once per session).
   * @throws StackNotFoundError when the stack does not exist in the region; StackOutputsError when it
   *   lacks an output; the errors of {@link awsCliError} for the call itself.
   */
  outputs(): Promise<PikoStackOutputs> {
    this.#outputs ??= this.#readOutputs();
    return this.#outputs;
  }

  async #readOutputs(): Promise<PikoStackOutputs> {
    const { region, stackName } = this.target;
    let stacks: DescribeStacksCommandOutput['Stacks'];
    try {
      ({ Stacks: stacks } = await this.cloudFormation.send(
        new DescribeStacksCommand({ StackName: stackName }),
      ));
    } catch (error) {
      if (
        awsErrorName(error) === 'ValidationError' &&
        /does not exist/.test(String((error as Error).message))
      ) {
        throw stackNotFound(this.target);
      }
      throw awsCliError(error, {
        operation: 'CloudFormation DescribeStacks',
        resource: `stack "${stackName}" in ${region}`,
        permission: 'cloudformation:DescribeStacks',
      });
    }
    const stack = stacks?.[0];
    if (!stack) throw stackNotFound(this.target);
    try {
      return parseStackOutputs(stackName, stack.Outputs ?? []);
    } catch (error) {
      throw new StackOutputsError(
        `${(error as Error).message} (stack status ${stack.StackStatus ?? 'unknown'} in ${region})`,
      );
    }
  }
}

function stackNotFound({ region, stackName }: AwsTarget): StackNotFoundError {
  return new StackNotFoundError(
    `Stack "${stackName}" does not exist in ${region}: deploy it (npx cdk deploy), or point --stack-name/--region (aws.stack_name/aws.region in settings.toml, PIKO_AWS__STACK_NAME/PIKO_AWS__REGION) at the deployed one`,
  );
}
