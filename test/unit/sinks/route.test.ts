import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { UnknownRecordTypeError } from '../../../shared/errors.ts';
import { defineRecord } from '../../../shared/sinks/record.ts';
import { RecordBuffer, routeRecords } from '../../../shared/sinks/route.ts';
import type { RecordType, Sink, SinkContext } from '../../../shared/sinks/types.ts';
import type { SqlDatabase } from '../../../shared/sql.ts';

const SalesRow = defineRecord('sales_row', z.object({ day: z.string(), amount: z.number() }));
const StoreRow = defineRecord('store_row', z.object({ store: z.string() }));
const AuditRow = defineRecord('audit_row', z.object({ what: z.string() }));
const DebugRow = defineRecord('debug_row', z.object({ what: z.string() }));

const context: SinkContext = {
  jobId: 'daily_sales',
  runId: 7,
  stateDatabase: {} as SqlDatabase,
  outputDir: '.piko/output',
};

/** A sink that keeps the batches it is given. */
function recordingSink<T>(recordType: RecordType<T>, batchSize: number) {
  const batches: (readonly T[])[] = [];
  const sink: Sink<T> = {
    recordType,
    batchSize,
    async write(records, sinkContext) {
      expect(sinkContext).toBe(context);
      batches.push(records);
    },
  };
  return { sink, batches };
}

const sales = (n: number) => Array.from({ length: n }, (_, i) => SalesRow.of({ day: `d${i}`, amount: i }));

describe('routeRecords', () => {
  it('writes each type to its sink in batches of the sink batchSize', async () => {
    const salesSink = recordingSink(SalesRow, 500);
    const storeSink = recordingSink(StoreRow, 2);
    const records = [...sales(1_201), ...['a', 'b', 'c'].map((store) => StoreRow.of({ store }))];

    const result = await routeRecords(records, [salesSink.sink, storeSink.sink], context);

    expect(salesSink.batches.map((b) => b.length)).toEqual([500, 500, 201]);
    expect(salesSink.batches[2]![200]).toEqual({ day: 'd1200', amount: 1200 });
    expect(storeSink.batches).toEqual([[{ store: 'a' }, { store: 'b' }], [{ store: 'c' }]]);
    expect(result).toEqual({ records: { sales_row: 1_201, store_row: 3 }, batches: 5 });
  });

  it('matches a record type by name when it is another object with the same tag', async () => {
    const Duplicate = defineRecord('sales_row', z.object({ day: z.string(), amount: z.number() }));
    const salesSink = recordingSink(SalesRow, 10);

    await routeRecords([Duplicate.of({ day: 'd', amount: 1 })], [salesSink.sink], context);

    expect(salesSink.batches).toEqual([[{ day: 'd', amount: 1 }]]);
  });

  it('writes a type to every sink registered for it', async () => {
    const first = recordingSink(SalesRow, 10);
    const second = recordingSink(SalesRow, 10);

    const result = await routeRecords(sales(3), [first.sink, second.sink], context);

    expect(first.batches.flat()).toHaveLength(3);
    expect(second.batches.flat()).toHaveLength(3);
    expect(result).toEqual({ records: { sales_row: 3 }, batches: 2 });
  });

  it('writes nothing and names every type without a sink', async () => {
    const salesSink = recordingSink(SalesRow, 10);
    const records = [
      ...sales(2),
      AuditRow.of({ what: 'x' }),
      DebugRow.of({ what: 'y' }),
      AuditRow.of({ what: 'z' }),
    ];

    const routing = routeRecords(records, [salesSink.sink], context);

    await expect(routing).rejects.toThrow(UnknownRecordTypeError);
    await expect(routing).rejects.toThrow(
      'Record types "audit_row", "debug_row" have no sink: add a sink for each to the job\'s sinks (record types with a sink: "sales_row").',
    );
    expect(salesSink.batches).toEqual([]);
  });

  it('says when the job has no sinks at all', async () => {
    await expect(routeRecords(sales(1), [], context)).rejects.toThrow(
      'Record type "sales_row" has no sink: add a sink for it to the job\'s sinks (the job has no sinks).',
    );
  });

  it('writes nothing for no records', async () => {
    const salesSink = recordingSink(SalesRow, 10);

    const result = await routeRecords([], [salesSink.sink], context);

    expect(result).toEqual({ records: {}, batches: 0 });
    expect(salesSink.batches).toEqual([]);
  });
});

describe('RecordBuffer', () => {
  it('rejects a record type without a sink when it is emitted', () => {
    const buffer = new RecordBuffer([recordingSink(SalesRow, 10).sink, recordingSink(StoreRow, 10).sink]);

    const act = () => buffer.emit(AuditRow.of({ what: 'x' }));

    expect(act).toThrow(UnknownRecordTypeError);
    expect(act).toThrow(
      'Record type "audit_row" has no sink: add a sink for it to the job\'s sinks (record types with a sink: "sales_row", "store_row").',
    );
    expect(buffer.size).toBe(0);
  });

  it('refuses a value that is not a tagged record', () => {
    const buffer = new RecordBuffer([recordingSink(SalesRow, 10).sink]);

    expect(() => buffer.emit({ day: 'd', amount: 1 } as never)).toThrow(
      'emit() takes a record made by a record type: emit(MyRecord.of(value))',
    );
  });

  it('keeps emitted records in order and routes them on flush, then forgets them', async () => {
    const salesSink = recordingSink(SalesRow, 2);
    const buffer = new RecordBuffer([salesSink.sink]);
    for (const record of sales(3)) buffer.emit(record);

    expect(buffer.records.map((r) => r.value)).toEqual([
      { day: 'd0', amount: 0 },
      { day: 'd1', amount: 1 },
      { day: 'd2', amount: 2 },
    ]);
    const result = await buffer.flush(context);

    expect(result).toEqual({ records: { sales_row: 3 }, batches: 2 });
    expect(salesSink.batches.map((b) => b.length)).toEqual([2, 1]);
    expect(buffer.size).toBe(0);
  });
});
