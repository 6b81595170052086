import type { z } from 'zod';
import { RecordValidationError, SinkDefinitionError } from '../errors.ts';
import type { RecordType, TaggedRecord } from './types.ts';

/** Record type names: a letter or `_`, then letters, digits, `_`, `.` or `-`; at most 64 characters. */
export const RECORD_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** A record type whose `of` also takes the schema's input (fields with defaults may be left out). */
export interface DefinedRecordType<T, I = T> extends RecordType<T> {
  of(value: I | T): TaggedRecord<T>;
}

/**
 * Defines a record type: a runtime tag (`name`) and the schema its values are validated against.
 * `of(value)` validates the value (defaults applied, unknown fields dropped) and tags it.
 * @example const SalesRow = defineRecord('sales_row', z.object({ day: z.string(), amount: z.number() }));
 *          ctx.emit(SalesRow.of({ day: '2026-01-01', amount: 12.5 }));
 * @throws SinkDefinitionError when the name does not match {@link RECORD_NAME_PATTERN}.
 */
export function defineRecord<T, I = T>(name: string, schema: z.ZodType<T, I>): DefinedRecordType<T, I> {
  if (!RECORD_NAME_PATTERN.test(name)) {
    throw new SinkDefinitionError(`record type ${JSON.stringify(name)}`, [
      'A record type name starts with a letter or "_", then letters, digits, "_", "." or "-", at most 64 characters.',
    ]);
  }
  const type: DefinedRecordType<T, I> = Object.freeze({
    name,
    schema,
    of(value: I | T): TaggedRecord<T> {
      const result = schema.safeParse(value);
      if (!result.success) throw new RecordValidationError(name, result.error.issues.map(describeIssue));
      return Object.freeze({ type, value: result.data });
    },
  });
  return type;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length === 0 ? 'the value' : `field "${issue.path.map(String).join('.')}"`;
  return `${where}: ${issue.message.replace(/^Invalid input: /, '')}`;
}
