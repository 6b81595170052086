/**
 * The `--aws`, `--region` and `--stack-name` options the commands share. Free of the AWS SDK: the
 * commands load the AWS paths (`shared/cli/aws/*.ts`) only when `--aws` is given, so the local CLI
 * does not pay for loading the SDK.
 */
import { Option } from 'commander';
import { InputError } from '../../errors.ts';

/** The options {@link awsOptions} adds, as commander parses them. */
export interface AwsFlags {
  /** Act on the deployed stack instead of the local state. @default false */
  readonly aws?: boolean;
  /** The stack's region. @default aws.region (settings.toml, PIKO_AWS__REGION), else AWS_REGION */
  readonly region?: string;
  /** The stack's name. @default aws.stack_name (settings.toml, PIKO_AWS__STACK_NAME), else 'Piko' */
  readonly stackName?: string;
}

/** `--aws`: what the command does with it, for its help. */
export function awsOption(what: string): Option {
  return new Option('--aws', `${what} (found by the stack's CloudFormation outputs)`);
}

/** `--region <region>`. */
export function regionOption(): Option {
  return new Option('--region <region>', 'with --aws: the region (default: aws.region, AWS_REGION)');
}

/** `--stack-name <name>`. */
export function stackNameOption(): Option {
  return new Option(
    '--stack-name <name>',
    'with --aws: the CloudFormation stack (default: aws.stack_name, Piko)',
  );
}

/**
 * Refuses `--region` and `--stack-name` without `--aws`: a command that would silently act on the
 * local state instead of the stack they name.
 * @throws InputError naming the flags.
 */
export function refuseAwsOnlyFlags(flags: AwsFlags): void {
  const given = [
    flags.region === undefined ? undefined : '--region',
    flags.stackName === undefined ? undefined : '--stack-name',
  ].filter((flag) => flag !== undefined);
  if (given.length > 0) {
    throw new InputError(
      `${given.join(' and ')} ${given.length > 1 ? 'only apply' : 'only applies'} with --aws: add --aws to act on the deployed stack, or leave ${given.length > 1 ? 'them' : 'it'} out to act on the local state`,
    );
  }
}
