import type { z } from 'zod';
import type { SqlDatabase } from '../sql.ts';
import type { SinkTable } from './sql-table.ts';

/**
 * A record type: a name that travels with each record at run time (the tag) and a zod schema.
 * Create with `defineRecord('sales_row', z.object({ … }))`.
 */
export interface RecordType<T> {
  /** The runtime tag, unique within a job. */
  readonly name: string;
  readonly schema: z.ZodType<T>;
  /** Wraps a value as a tagged record, validating it against the schema. */
  of(value: T): TaggedRecord<T>;
}

/** A value with its record type: what `ctx.emit` takes. */
export interface TaggedRecord<T> {
  readonly type: RecordType<T>;
  readonly value: T;
}

/** What a sink gets when it writes. */
export interface SinkContext {
  readonly jobId: string;
  readonly runId: number;
  /** The database of the state store (SQLite locally, MySQL/Aurora when configured). */
  readonly stateDatabase: SqlDatabase;
  /** Directory for file sinks. @default '.piko/output' */
  readonly outputDir: string;
}

/** Where records of one type go. Writes must be idempotent: re-running an interval never duplicates. */
export interface Sink<T> {
  readonly recordType: RecordType<T>;
  /** Records written per call of `write`. @default 500 */
  readonly batchSize: number;
  /**
   * The state-database table the sink creates and writes, when it writes one: the registry refuses
   * two jobs whose sinks define one table differently, and on AWS the job's database user may create,
   * read, insert and update these tables and no others. @default - (writes no table)
   */
  readonly table?: SinkTable;
  /** Writes one batch. */
  write(records: readonly T[], context: SinkContext): Promise<void>;
}
