/**
 * Typed records and the sinks that store them (`shared/sinks/`, DESIGN.md §2): record types checked
 * with zod, routing a run's records to its sinks, and the sinks (JSON lines files, upserts into SQL
 * tables). It may import the resources (for databases), the errors and telemetry; jobs reach it
 * through the public API (`#piko`).
 */
export { RecordValidationError, SinkDefinitionError } from '../errors.ts';
export { type JsonLinesSinkOptions, jsonLinesRunFile, jsonLinesSink } from './json-lines-sink.ts';
export { type DefinedRecordType, defineRecord, RECORD_NAME_PATTERN } from './record.ts';
export { RecordBuffer, type RouteResult, routeRecords } from './route.ts';
export { IDENTIFIER_PATTERN } from './sql-table.ts';
export type { RecordType, Sink, SinkContext, TaggedRecord } from './types.ts';
export { type UpsertSinkOptions, upsertSink } from './upsert-sink.ts';
