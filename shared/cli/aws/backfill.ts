/**
 * `piko backfill <job> --from --to … --aws`: starts the stack's backfill state machine with the
 * request, under an execution name derived from the request, and prints the execution's console URL.
 */
import { isDeepStrictEqual } from 'node:util';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { parseControlEvent } from '../../control/events.ts';
import { awsErrorName, BackfillExecutionConflictError } from '../../errors.ts';
import {
  type BackfillRequest,
  backfillId,
  type Reprocess,
  validateBackfill,
} from '../../planner/backfill.ts';
import { MAX_EXECUTION_NAME_LENGTH } from '../../workflow/execution-name.ts';
import { cliContext } from '../context.ts';
import type { CliIo } from '../io.ts';
import { type AwsCall, awsCliError } from './aws-call.ts';
import type { AwsFlags } from './options.ts';
import { AwsSession, resolveAwsTarget } from './session.ts';

/** The backfill state machine's input, exactly as the dispatcher's `backfill-plan` reads it. */
export interface BackfillExecutionInput {
  readonly jobId: string;
  /** ISO 8601 in UTC (`toISOString`). */
  readonly from: string;
  readonly to: string;
  readonly reprocess: Reprocess;
  readonly dryRun: boolean;
  readonly reverse: boolean;
  readonly config: unknown;
  /** Present (true) for a `--downstream` backfill only: the downstream jobs' backfills follow. */
  readonly downstream?: true;
}

/**
 * The backfill's execution name: `<jobId>-<backfillId>`, with `-downstream` for a `--downstream`
 * backfill and `-dry-run` for a dry run (a dry run and the real backfill of one request are two
 * executions, as with and without its downstream jobs). The same request always gives the same
 * name, so starting it twice starts it once. Job ids have at most 40 characters; a name over 80
 * characters drops the job id. Only letters, digits, `_` and `-`.
 */
export function backfillExecutionName(request: BackfillRequest): string {
  const suffix = `${request.downstream ? '-downstream' : ''}${request.dryRun ? '-dry-run' : ''}`;
  const name = `${request.jobId}-${backfillId(request)}${suffix}`;
  return name.length <= MAX_EXECUTION_NAME_LENGTH ? name : `${backfillId(request)}${suffix}`;
}

/** The state machine input of a request, with every default filled in and the instants in UTC. */
export function backfillExecutionInput(request: BackfillRequest): BackfillExecutionInput {
  return {
    jobId: request.jobId,
    from: request.from.toISOString(),
    to: request.to.toISOString(),
    reprocess: request.reprocess ?? 'missing',
    dryRun: request.dryRun ?? false,
    reverse: request.reverse ?? false,
    config: request.config ?? null,
    ...(request.downstream ? { downstream: true as const } : {}),
  };
}

/**
 * Step Functions answers a start of a running execution with the same name and input with that
 * execution and its start date: one older than this (well past any clock skew) means the backfill was
 * already running.
 */
const ALREADY_RUNNING_AFTER_MS = 60_000;

/** The Step Functions console page of an execution. */
export function executionConsoleUrl(region: string, executionArn: string): string {
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** `arn:…:stateMachine:<machine>` and a name → `arn:…:execution:<machine>:<name>`. */
export function executionArnOf(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}

/**
 * Starts the backfill on AWS after checking the request against the local job definition (the same
 * checks the state machine makes: range, future end, interval count, config schema). With
 * `options.downstream` and jobs downstream of the job, the request asks the dispatcher to find their
 * stale intervals before it plans the backfill and to backfill them after it, in dependency order
 * (a job nothing depends on is backfilled as with no `--downstream`).
 *
 * Starting the same request again: Step Functions answers a start of a running execution with the
 * same name and input with that execution (its start date tells it from a new one), and
 * `ExecutionAlreadyExists` once it has ended. Either way the CLI says the backfill was already
 * started, prints its URL and exits 0. `ExecutionAlreadyExists` for an execution of that name with
 * another input (started by hand) is a conflict: exit 2.
 * @throws BackfillExecutionConflictError, the errors of `validateBackfill` and {@link AwsSession}.
 * @param options.downstream @default false
 */
export async function backfillOnAws(
  asked: BackfillRequest,
  flags: AwsFlags & { readonly json?: boolean },
  io: CliIo,
  options: { readonly downstream?: boolean } = {},
): Promise<void> {
  const context = await cliContext({ json: flags.json });
  const job = context.jobs.get(asked.jobId);
  const request =
    options.downstream && context.jobs.downstreamOrder(job.id).length > 0
      ? { ...asked, downstream: true }
      : asked;
  validateBackfill(job, request, new Date(), {
    maxBackfillIntervals: context.config.piko.maxBackfillIntervals,
  });

  const session = new AwsSession(resolveAwsTarget(flags, context.config.aws));
  const { backfillStateMachineArn: stateMachineArn } = await session.outputs();
  const { region } = session.target;
  const name = backfillExecutionName(request);
  const input = backfillExecutionInput(request);
  const id = backfillId(request);
  const what = `${request.jobId}: ${request.dryRun ? 'dry run of backfill' : 'backfill'} ${id}`;
  const report = (event: string, executionArn: string, text: string, status?: string) => {
    const url = executionConsoleUrl(region, executionArn);
    if (flags.json) {
      io.out(
        JSON.stringify({
          event,
          jobId: request.jobId,
          backfillId: id,
          dryRun: input.dryRun,
          executionName: name,
          executionArn,
          ...(status === undefined ? {} : { status }),
          url,
        }),
      );
    } else {
      io.out(text);
      io.out(url);
    }
  };

  const start: AwsCall = {
    operation: 'Step Functions StartExecution',
    resource: `the backfill state machine ${stateMachineArn}`,
    permission: 'states:StartExecution',
  };
  const before = Date.now();
  try {
    const { executionArn, startDate } = await session.sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
    );
    const arn = executionArn ?? executionArnOf(stateMachineArn, name);
    if (startDate && startDate.getTime() < before - ALREADY_RUNNING_AFTER_MS) {
      report(
        'backfill-already-started',
        arn,
        `${what} was already started as execution ${name} (RUNNING since ${startDate.toISOString()}); not started again`,
        'RUNNING',
      );
      return;
    }
    const then = request.downstream
      ? `, then the backfills of ${context.jobs
          .downstreamOrder(job.id)
          .map((next) => next.id)
          .join(', ')} that it makes stale`
      : '';
    const text = request.dryRun
      ? `${what}${then} started as execution ${name}; the plan will be its output`
      : `${what}${then} started as execution ${name}`;
    report('backfill-started', arn, text);
    return;
  } catch (error) {
    if (awsErrorName(error) !== 'ExecutionAlreadyExists') throw awsCliError(error, start);
  }

  const executionArn = executionArnOf(stateMachineArn, name);
  let status: string | undefined;
  try {
    const existing = await session.sfn.send(new DescribeExecutionCommand({ executionArn }));
    status = existing.status;
    if (!sameRequest(existing.input, input)) {
      throw new BackfillExecutionConflictError(
        `Execution ${name} of ${stateMachineArn} already exists with another input (${truncate(existing.input ?? '')}), so this backfill cannot start under its name; start it from the Step Functions console under another name with the input ${JSON.stringify(input)}`,
      );
    }
  } catch (error) {
    if (error instanceof BackfillExecutionConflictError) throw error;
    const reason = awsCliError(error, {
      operation: 'Step Functions DescribeExecution',
      resource: `execution ${executionArn}`,
      permission: 'states:DescribeExecution',
    });
    io.err(`note: could not compare the input of the existing execution: ${reason.message}`);
  }
  const again =
    status === 'RUNNING'
      ? ''
      : '; to run the same request again, start it from the Step Functions console under another name (docs/aws.md)';
  report(
    'backfill-already-started',
    executionArn,
    `${what} was already started as execution ${name} (${status ?? 'status unknown'}); not started again${again}`,
    status,
  );
}

/** True when an execution's input is the same request as `input` (defaults filled in, instants in UTC). */
function sameRequest(existing: string | undefined, input: BackfillExecutionInput): boolean {
  try {
    const event = parseControlEvent({ action: 'backfill-plan', request: JSON.parse(existing ?? '') });
    return (
      event.action === 'backfill-plan' && isDeepStrictEqual(backfillExecutionInput(event.request), input)
    );
  } catch {
    return false;
  }
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
