/** Typed records and the sinks that store them (DESIGN.md §2). */
export { RecordValidationError, SinkDefinitionError } from '../errors.ts';
export { type JsonLinesSinkOptions, jsonLinesRunFile, jsonLinesSink } from './json-lines-sink.ts';
export { type DefinedRecordType, defineRecord, RECORD_NAME_PATTERN } from './record.ts';
export { RecordBuffer, type RouteResult, routeRecords } from './route.ts';
export { IDENTIFIER_PATTERN } from './sql-table.ts';
export type { RecordType, Sink, SinkContext, TaggedRecord } from './types.ts';
export { type UpsertSinkOptions, upsertSink } from './upsert-sink.ts';
