/**
 * Every error Piko throws on purpose. The class decides behaviour (a `NonRetryableError` is never
 * retried); the message says what is wrong and how to fix it.
 *
 * Every class sets its `name` as a string literal: Step Functions' Retry and Catch and the CLI match
 * on it, and a bundler that renames classes (esbuild's `minify`) must not change it. A subclass
 * may set its own `name` (`RecordValidationError`): what decides retries is the class, not the name,
 * and {@link workflowErrorName} gives every non-retryable error the one name the workflows match.
 */
export class PikoError extends Error {
  override name = 'PikoError';
}

/** A job definition is invalid. Lists every problem at once, one per line. */
export class JobDefinitionError extends PikoError {
  override name = 'JobDefinitionError';
  /** The individual problems, each a full sentence. */
  readonly problems: readonly string[];
  constructor(jobId: string, problems: readonly string[]) {
    super(`Invalid job "${jobId}":\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** A cron expression or timezone cannot be used. The message names the field and the value. */
export class ScheduleError extends PikoError {
  override name = 'ScheduleError';
}

/** A duration such as `'30s'` cannot be parsed. */
export class DurationError extends PikoError {
  override name = 'DurationError';
}

/** Configuration (defaults, settings.toml, PIKO_* environment) is invalid; lists every key at once. */
export class ConfigError extends PikoError {
  override name = 'ConfigError';
  /** One line per invalid key, with the value's source. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** Input given by a user (CLI flags, backfill request, Lambda event) is invalid. */
export class InputError extends PikoError {
  override name = 'InputError';
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

/** A backfill request was refused; nothing was written. */
export class BackfillRefusedError extends PikoError {
  override name = 'BackfillRefusedError';
}

/** A job id that no registered job has. */
export class UnknownJobError extends PikoError {
  override name = 'UnknownJobError';
  constructor(jobId: string, known: readonly string[]) {
    super(`Unknown job "${jobId}". Known jobs: ${known.length ? known.join(', ') : '(none)'}.`);
  }
}

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
 * A stage event (or a state update it leads to) disagrees with the run in the state table: another
 * job's run, another execution, an older generation, or a job function given another job's event.
 * Nothing is written. Never retried: the same event disagrees again (the workflow's Retry lists it
 * with `NonRetryableError`); the run's real owner, if any, runs it.
 */
export class StageEventRefusedError extends PikoError {
  override name = 'StageEventRefusedError';
}

/**
 * A config override (of a manual run or a backfill) is larger than {@link MAX_CONFIG_OVERRIDE_BYTES}
 * allows (`shared/job.ts`). It is stored with the runs and read by every stage: keep it small, or put large inputs in a
 * resource the job reads.
 */
export class ConfigOverrideTooLargeError extends InputError {
  override name = 'ConfigOverrideTooLargeError';
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
 * The web UI's address is taken (another runtime or UI on this machine). `piko start` says so and
 * runs without its UI; `piko ui` stops with it.
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
