import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { NonRetryableError, RecordValidationError } from '../../../shared/errors.ts';
import { defineRecord } from '../../../shared/sinks/record.ts';

const SalesRow = defineRecord(
  'sales_row',
  z.object({ day: z.string(), store: z.string(), amount: z.number(), currency: z.string().default('EUR') }),
);

describe('defineRecord', () => {
  it('tags a valid value with its record type, defaults applied and unknown fields dropped', () => {
    const value = { day: '2026-01-01', store: 'north', amount: 12.5, note: 'dropped' };

    const record = SalesRow.of(value);

    expect(record.type).toBe(SalesRow);
    expect(record.value).toEqual({ day: '2026-01-01', store: 'north', amount: 12.5, currency: 'EUR' });
    expect(Object.isFrozen(record)).toBe(true);
  });

  it('names the record type and every invalid field', () => {
    const act = () => SalesRow.of({ day: '2026-01-01', amount: '12' } as never);

    expect(act).toThrow(RecordValidationError);
    expect(act).toThrow(NonRetryableError);
    expect(act).toThrow(
      'Invalid "sales_row" record: field "store": expected string, received undefined; field "amount": expected number, received string',
    );
  });

  it('describes a value that is not an object', () => {
    expect(() => SalesRow.of('x' as never)).toThrow(
      'Invalid "sales_row" record: the value: expected object, received string',
    );
  });

  it('refuses a name that cannot be a tag', () => {
    expect(() => defineRecord('sales row', z.object({}))).toThrow(
      'Invalid record type "sales row":\n  - A record type name starts with a letter or "_", then letters, digits, "_", "." or "-", at most 64 characters.',
    );
  });
});
