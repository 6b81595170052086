/**
 * Every error Piko throws on purpose, in one module that imports nothing (every bundle carries it,
 * so it must stay small: no AWS SDK, no Piko module). The class decides behaviour, through its
 * place in the hierarchy or a property: a `NonRetryableError` is never retried, `exitCode` is what
 * the `piko` CLI ends with. The message says what is wrong and how to fix it.
 *
 * Every class sets its `name` as a string literal: Step Functions' Retry and Catch and the CLI match
 * on it, and a bundler that renames classes (esbuild's `minify`) must not change it. A subclass
 * may set its own `name` (`RecordValidationError`): what decides retries is the class, not the name,
 * and {@link workflowErrorName} gives every non-retryable error the one name the workflows match.
 * Every class is listed in `test/fixtures/bundle/error-names.ts`, which checks that a bundle keeps it.
 */

// ── The base class, the longest message, the CLI's exit codes ────────────────────────────────────

/**
 * Exit codes of every `piko` command: 0 ok; 1 something failed (some runs, the store, AWS: running
 * it again may help); 2 bad usage or input (fix the command, the configuration, the job definitions
 * or the deployment). An error's {@link PikoError.exitCode} is one of them.
 */
export const EXIT = { ok: 0, runsFailed: 1, badInput: 2 } as const;

/**
 * The longest error message Piko records (the state table's `error` columns hold 1,000 characters)
 * or prints, in characters; longer ones are cut.
 */
export const MAX_ERROR_MESSAGE_LENGTH = 1_000;

/** The base of every Piko error. */
export class PikoError extends Error {
  override name = 'PikoError';
  /**
   * What the `piko` CLI exits with when this error ends a command ({@link EXIT}); errors that are
   * not Piko's end it with 1 too.
   * @default 1 (EXIT.runsFailed): something failed; subclasses the user must fix say 2 (EXIT.badInput)
   */
  readonly exitCode: number = EXIT.runsFailed;
}

/**
 * Thrown by a command to end with `exitCode` after it has printed its own message (some runs
 * failed): the CLI prints nothing more.
 */
export class ExitCodeError extends PikoError {
  override name = 'ExitCodeError';
  override readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.exitCode = exitCode;
  }
}

// ── Job definitions, schedules and configuration: fix the code or the settings ───────────────────

/** A job definition is invalid. Lists every problem at once, one per line. Exit code 2. */
export class JobDefinitionError extends PikoError {
  override name = 'JobDefinitionError';
  override readonly exitCode: number = EXIT.badInput;
  /** The individual problems, each a full sentence. */
  readonly problems: readonly string[];
  constructor(jobId: string, problems: readonly string[]) {
    super(`Invalid job "${jobId}":\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** A cron expression or timezone cannot be used. The message names the field and the value. Exit code 2. */
export class ScheduleError extends PikoError {
  override name = 'ScheduleError';
  override readonly exitCode: number = EXIT.badInput;
}

/** A duration such as `'30s'` cannot be parsed. Exit code 2. */
export class DurationError extends PikoError {
  override name = 'DurationError';
  override readonly exitCode: number = EXIT.badInput;
}

/**
 * Configuration (defaults, settings.toml, PIKO_* environment) is invalid; lists every key at once.
 * Exit code 2.
 */
export class ConfigError extends PikoError {
  override name = 'ConfigError';
  override readonly exitCode: number = EXIT.badInput;
  /** One line per invalid key, with the value's source. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** A record type or sink is defined wrongly (bad name, key, column type). Lists every problem at once. */
export class SinkDefinitionError extends PikoError {
  override name = 'SinkDefinitionError';
  override readonly exitCode: number = EXIT.badInput;
  /** The individual problems, each a full sentence. */
  readonly problems: readonly string[];
  constructor(what: string, problems: readonly string[]) {
    super(`Invalid ${what}:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

// ── Requests refused: nothing was written; fix the request ───────────────────────────────────────

/** Input given by a user (CLI flags, backfill request, Lambda event) is invalid. Exit code 2. */
export class InputError extends PikoError {
  override name = 'InputError';
  override readonly exitCode: number = EXIT.badInput;
}

/**
 * New work (a manual run, an action of the UI) was asked of a runtime that is stopping (SIGINT or
 * SIGTERM): it starts nothing more; nothing was written.
 */
export class RuntimeStoppingError extends PikoError {
  override name = 'RuntimeStoppingError';
  constructor() {
    super(
      'This piko process is stopping (SIGINT or SIGTERM): it starts no new work. Act from another piko process on the same store, or once this one has started again.',
    );
  }
}

/** New work (a manual run) was asked of a paused job; nothing was written. */
export class JobPausedError extends InputError {
  override name = 'JobPausedError';
  constructor(jobId: string, what: string) {
    super(
      `Job "${jobId}" is paused: ${what} would start new work, and a paused job starts none; resume it first with piko resume ${jobId}`,
    );
  }
}

/**
 * A config override (of a manual run or a backfill) is larger than `MAX_CONFIG_OVERRIDE_BYTES`
 * allows (`shared/job.ts`). It is stored with the runs and read by every stage: keep it small, or put
 * large inputs in a resource the job reads.
 */
export class ConfigOverrideTooLargeError extends InputError {
  override name = 'ConfigOverrideTooLargeError';
}

/** A backfill request was refused; nothing was written. Exit code 2. */
export class BackfillRefusedError extends PikoError {
  override name = 'BackfillRefusedError';
  override readonly exitCode: number = EXIT.badInput;
}

/**
 * An operator asked something of a backfill it cannot do: unknown, of another job, or in a status
 * the command does not apply to (resume one that runs, cancel one that is done). Nothing changed.
 * Exit code 2.
 */
export class BackfillStateError extends PikoError {
  override name = 'BackfillStateError';
  override readonly exitCode: number = EXIT.badInput;
}

/** A job id that no registered job has. Exit code 2. */
export class UnknownJobError extends PikoError {
  override name = 'UnknownJobError';
  override readonly exitCode: number = EXIT.badInput;
  constructor(jobId: string, known: readonly string[]) {
    super(`Unknown job "${jobId}". Known jobs: ${known.length ? known.join(', ') : '(none)'}.`);
  }
}

// ── The state store ──────────────────────────────────────────────────────────────────────────────

/** The state store failed or holds something unexpected. */
export class StoreError extends PikoError {
  override name = 'StoreError';
}

/**
 * The state store could not be reached: the connection was refused, lost or timed out. Transient: a
 * run whose stage fails with it after its retries is put back to pending, not recorded as failed (the
 * job is not at fault), and runs again once the store is back.
 */
export class StoreUnavailableError extends StoreError {
  override name = 'StoreUnavailableError';
}

/**
 * The state store holds something that cannot be trusted: a corrupt SQLite file (`SQLITE_CORRUPT`,
 * `SQLITE_NOTADB`, a failed `PRAGMA quick_check`), or an empty or replaced file where state existed.
 * Fatal: retrying cannot fix it, and carrying on could plan every job again from its start. The
 * message says how to restore.
 */
export class StoreCorruptError extends StoreError {
  override name = 'StoreCorruptError';
}

// ── Runs: what a stage throws, and what the workflows retry ──────────────────────────────────────

/** A record was emitted whose type has no sink in the job's `sinks`. */
export class UnknownRecordTypeError extends PikoError {
  override name = 'UnknownRecordTypeError';
}

/** A handler ran longer than its job's `timeout`. Retried like any other error. */
export class TimeoutError extends PikoError {
  override name = 'TimeoutError';
}

/**
 * Throw from a handler to fail the run at once, without retries.
 * @example throw new NonRetryableError('input file is corrupt');
 */
export class NonRetryableError extends PikoError {
  override name = 'NonRetryableError';
}

/**
 * An operator cancelled the run (`piko cancel`, the UI, `--aws`) or marked it skipped while a stage
 * ran: the stage's handler saw its `ctx.signal` abort with this error, and nothing it returns is
 * recorded. A NonRetryableError, so the workflow neither retries nor fails the run: it stays
 * `cancelled` (or `skipped`); run it again with `piko run` or a backfill.
 */
export class RunCancelledError extends NonRetryableError {
  override name = 'RunCancelledError';
  /** The run's id. */
  readonly runId: number;
  constructor(runId: number, status: 'cancelled' | 'skipped' = 'cancelled') {
    super(
      `Run ${runId} was ${status} by an operator while it ran; its result is not recorded (run the interval again with piko run or a backfill)`,
    );
    this.runId = runId;
  }
}

/**
 * A value given to `RecordType.of` does not match the record type's schema. Not retried: the same
 * input produces the same record again.
 */
export class RecordValidationError extends NonRetryableError {
  override name = 'RecordValidationError';
  /** The record type's name. */
  readonly recordType: string;
  /** One entry per invalid field: `field "amount": expected number, received string`. */
  readonly problems: readonly string[];
  constructor(recordType: string, problems: readonly string[]) {
    super(`Invalid "${recordType}" record: ${problems.join('; ')}`);
    this.recordType = recordType;
    this.problems = problems;
  }
}

/**
 * An upsert sink's table exists in the database with another key or without the sink's columns
 * (another job's table, or an old definition). Not retried: the table will not change by itself.
 */
export class SinkTableMismatchError extends NonRetryableError {
  override name = 'SinkTableMismatchError';
}

/**
 * A stage event (or a state update it leads to) disagrees with the run in the state table: another
 * job's run, another execution, an older generation, or a job function given another job's event.
 * Nothing is written. Never retried: the same event disagrees again (the workflow's Retry lists it
 * with `NonRetryableError`); the run's real owner, if any, runs it.
 */
export class StageEventRefusedError extends PikoError {
  override name = 'StageEventRefusedError';
}

/**
 * This process's clock disagrees with the job's state (its row was updated, or its watermark moved,
 * later than "now") or with the database server's clock: planning from it would plan intervals that
 * have not happened, or nothing at all. Planning of that job stops (nothing written) until the
 * clocks agree; the message names both times and how to recover.
 */
export class ClockSkewError extends PikoError {
  override name = 'ClockSkewError';
  readonly jobId: string;
  constructor(jobId: string, message: string) {
    super(message);
    this.jobId = jobId;
  }
}

/**
 * The classes whose errors Step Functions never retries, by the name their errors (and those of every
 * subclass) are reported under. The job workflow's Retry lists these names with `MaxAttempts 0`.
 */
const NON_RETRYABLE_CLASSES = [
  ['NonRetryableError', NonRetryableError],
  ['StageEventRefusedError', StageEventRefusedError],
] as const;

/** The error names the workflows never retry (`MaxAttempts 0`), one per non-retryable class. */
export const NON_RETRYABLE_ERROR_NAMES: readonly string[] = NON_RETRYABLE_CLASSES.map(([name]) => name);

/**
 * The name an error is reported under to Step Functions (whose Retry and Catch match on names): a
 * non-retryable error, of any subclass and whatever its own name, is reported under its class's name
 * from {@link NON_RETRYABLE_ERROR_NAMES}; any other error keeps its name.
 */
export function workflowErrorName(error: Error): string {
  const nonRetryable = NON_RETRYABLE_CLASSES.find(([, type]) => error instanceof type);
  return nonRetryable ? nonRetryable[0] : error.name;
}

// ── The local workflow executor (shared/local/workflow/executor.ts) ──────────────────────────────

/** A local execution failed: a state failed with nothing to catch it (or a `States.Runtime` error). */
export class WorkflowFailedError extends PikoError {
  override name = 'WorkflowFailedError';
  /** The error name Step Functions would report (`States.Runtime`, `NonRetryableError`, …). */
  readonly error: string;
  constructor(error: string, cause: string) {
    super(`Workflow execution failed: ${error}: ${cause}`);
    this.error = error;
  }
}

/** A local execution was aborted through its `signal`. */
export class WorkflowAbortedError extends PikoError {
  override name = 'WorkflowAbortedError';
  constructor() {
    super('Workflow execution aborted');
  }
}

/**
 * A local runtime no longer holds the lease of a workflow execution: another runtime took it over
 * after it expired (DESIGN.md §8). Thrown by a stage that was about to start; the execution is
 * aborted first, so nothing is recorded, and the runtime that holds the lease runs the rest.
 */
export class LeaseLostError extends PikoError {
  override name = 'LeaseLostError';
}

// ── AWS calls (the AWS SDK's errors are mapped to these where the calls are made) ────────────────

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

/** No AWS credentials were found, or AWS did not accept them. Exit code 2. */
export class AwsCredentialsError extends AwsCallError {
  override name = 'AwsCredentialsError';
  override readonly exitCode: number = EXIT.badInput;
}

/** A resource the stack should have does not exist (a job added without a deploy). Exit code 2. */
export class AwsResourceNotFoundError extends AwsCallError {
  override name = 'AwsResourceNotFoundError';
  override readonly exitCode: number = EXIT.badInput;
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

// ── The `--aws` CLI: the deployed stack and its dispatcher ───────────────────────────────────────

/** No region, or a region or stack name that cannot be one. Exit code 2. */
export class AwsTargetError extends InputError {
  override name = 'AwsTargetError';
}

/** The stack does not exist in the region. Exit code 2. */
export class StackNotFoundError extends InputError {
  override name = 'StackNotFoundError';
}

/** The stack exists but lacks outputs the CLI reads (not a Piko stack, or not deployed yet). Exit code 2. */
export class StackOutputsError extends InputError {
  override name = 'StackOutputsError';
}

/**
 * The backfill's execution name is taken by an execution with another input: starting it again would
 * not start this request. Exit code 2.
 */
export class BackfillExecutionConflictError extends InputError {
  override name = 'BackfillExecutionConflictError';
}

/** The dispatcher refused the request (unknown job, invalid event, refused backfill). Exit code 2. */
export class DispatcherRefusedError extends InputError {
  override name = 'DispatcherRefusedError';
  /** The error class the dispatcher threw (`UnknownJobError`, …). */
  readonly errorType: string;
  constructor(message: string, errorType: string) {
    super(message);
    this.errorType = errorType;
  }
}

/** The dispatcher failed (store unreachable, timeout, …): its `FunctionError`. Exit code 1. */
export class DispatcherFailedError extends AwsCallError {
  override name = 'DispatcherFailedError';
}

// ── The web UI ───────────────────────────────────────────────────────────────────────────────────

/**
 * The web UI's address is taken (another runtime or UI on this machine). `piko start` says so and
 * runs without its UI; `piko ui` stops with it (exit code 2).
 */
export class UiPortInUseError extends InputError {
  override name = 'UiPortInUseError';
  constructor(host: string, port: number) {
    super(
      `The web UI cannot listen on ${host}:${port}: the port is in use (another piko runtime or UI?). ` +
        'Choose another with --port or [ui] port (PIKO_UI__PORT).',
    );
  }
}
