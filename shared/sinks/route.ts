import { PikoError, UnknownRecordTypeError } from '../errors.ts';
import type { Sink, SinkContext, TaggedRecord } from './types.ts';

/** What {@link routeRecords} wrote. */
export interface RouteResult {
  /** Records written, per record type name (each record counted once, however many sinks took it). */
  readonly records: Readonly<Record<string, number>>;
  /** `write` calls made, over all sinks. */
  readonly batches: number;
}

/**
 * Writes records to the sinks registered for their types, matched by record type name (the runtime
 * tag; the same `RecordType` object always matches). First checks that every record's type has a
 * sink and throws before writing anything if not; then, type by type in order of first appearance,
 * writes each type's records to each of its sinks in batches of the sink's `batchSize`, one after
 * the other.
 * @throws UnknownRecordTypeError naming every record type without a sink; nothing is written then.
 */
export async function routeRecords(
  records: readonly TaggedRecord<unknown>[],
  sinks: readonly Sink<unknown>[],
  context: SinkContext,
): Promise<RouteResult> {
  const sinksByType = groupSinks(sinks);
  const groups = new Map<string, unknown[]>();
  const unknown = new Set<string>();
  for (const record of records) {
    const name = record.type.name;
    if (!sinksByType.has(name)) unknown.add(name);
    else if (unknown.size === 0) {
      const group = groups.get(name);
      if (group) group.push(record.value);
      else groups.set(name, [record.value]);
    }
  }
  if (unknown.size > 0) throw unknownRecordTypes([...unknown], sinksByType);

  const counts: Record<string, number> = {};
  let batches = 0;
  for (const [name, values] of groups) {
    for (const sink of sinksByType.get(name)!) {
      for (let start = 0; start < values.length; start += sink.batchSize) {
        await sink.write(values.slice(start, start + sink.batchSize), context);
        batches += 1;
      }
    }
    counts[name] = values.length;
  }
  return { records: counts, batches };
}

/**
 * Collects the records a run emits (`ctx.emit`), rejecting a record type without a sink at once,
 * and routes them when the run's handler has finished ({@link RecordBuffer.flush}).
 */
export class RecordBuffer {
  readonly #sinks: readonly Sink<unknown>[];
  readonly #sinksByType: ReadonlyMap<string, readonly Sink<unknown>[]>;
  #records: TaggedRecord<unknown>[] = [];

  /** @param sinks the job's sinks. */
  constructor(sinks: readonly Sink<unknown>[]) {
    this.#sinks = sinks;
    this.#sinksByType = groupSinks(sinks);
  }

  /**
   * Keeps a record for {@link RecordBuffer.flush}.
   * @throws UnknownRecordTypeError when no sink takes the record's type.
   */
  emit(record: TaggedRecord<unknown>): void {
    const name: unknown = (record as { type?: { name?: unknown } } | undefined)?.type?.name;
    if (typeof name !== 'string') {
      throw new PikoError('emit() takes a record made by a record type: emit(MyRecord.of(value))');
    }
    if (!this.#sinksByType.has(name)) throw unknownRecordTypes([name], this.#sinksByType);
    this.#records.push(record);
  }

  /** The records emitted and not yet flushed, in order. */
  get records(): readonly TaggedRecord<unknown>[] {
    return this.#records;
  }

  /** How many records are waiting. */
  get size(): number {
    return this.#records.length;
  }

  /** Routes the waiting records to the sinks ({@link routeRecords}); forgets them once written. */
  async flush(context: SinkContext): Promise<RouteResult> {
    const records = this.#records;
    const result = await routeRecords(records, this.#sinks, context);
    this.#records = this.#records.slice(records.length);
    return result;
  }
}

function groupSinks(sinks: readonly Sink<unknown>[]): Map<string, Sink<unknown>[]> {
  const byType = new Map<string, Sink<unknown>[]>();
  for (const sink of sinks) {
    const list = byType.get(sink.recordType.name);
    if (list) list.push(sink);
    else byType.set(sink.recordType.name, [sink]);
  }
  return byType;
}

function unknownRecordTypes(
  names: readonly string[],
  sinksByType: ReadonlyMap<string, unknown>,
): UnknownRecordTypeError {
  const quoted = (list: readonly string[]) => list.map((n) => JSON.stringify(n)).join(', ');
  const known =
    sinksByType.size > 0
      ? `record types with a sink: ${quoted([...sinksByType.keys()])}`
      : 'the job has no sinks';
  const subject =
    names.length === 1
      ? `Record type ${quoted(names)} has no sink: add a sink for it`
      : `Record types ${quoted(names)} have no sink: add a sink for each`;
  return new UnknownRecordTypeError(`${subject} to the job's sinks (${known}).`);
}
