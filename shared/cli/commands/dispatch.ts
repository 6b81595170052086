import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { type AwsFlags, awsOption, regionOption, stackNameOption } from '../aws/options.ts';
import type { CliIo } from '../io.ts';

/**
 * `piko dispatch <job> --aws`: invokes the deployed dispatcher for the job, as its schedule does
 * (LocalStack's Scheduler does not fire: this is how a tick is made there). Locally, `piko start`
 * plans and runs what is due.
 */
export function dispatchCommand(program: Command, io: CliIo): void {
  program
    .command('dispatch <job>')
    .description("plan a job's due intervals and start their workflows on AWS, as a schedule tick does")
    .option('--json', "the dispatcher's answer as one JSON object")
    .addOption(awsOption('invoke the dispatcher of the deployed stack (required)'))
    .addOption(regionOption())
    .addOption(stackNameOption())
    .action(async (jobId: string, flags: AwsFlags & { json?: boolean }) => {
      if (!flags.aws) {
        throw new InputError(
          'piko dispatch invokes the dispatcher on AWS: add --aws (locally, piko start or piko start --once plans and runs what is due)',
        );
      }
      await (await import('../aws/dispatch.ts')).dispatchOnAws(jobId, flags, io);
    });
}
