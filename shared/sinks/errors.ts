import { NonRetryableError, PikoError } from '../errors.ts';

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

/** A record type or sink is defined wrongly (bad name, key, column type). Lists every problem at once. */
export class SinkDefinitionError extends PikoError {
  override name = 'SinkDefinitionError';
  /** The individual problems, each a full sentence. */
  readonly problems: readonly string[];
  constructor(what: string, problems: readonly string[]) {
    super(`Invalid ${what}:\n  - ${problems.join('\n  - ')}`);
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
