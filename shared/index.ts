/**
 * The public job API, imported as `#piko` (package.json `imports`): everything a job file uses, from
 * defining the job to the records, resources, errors and logger it works with. Jobs import this and
 * nothing else of Piko. It re-exports only the job model, sinks, resources, the errors a handler
 * throws and the telemetry created once per process, never the runtime around them (store, planner,
 * runners), so a bundle that imports the jobs carries nothing more than the jobs need. The one
 * piece of the runner here is `runJobOnce`, a job's unit test helper: it runs a stage's attempt with
 * no store (`runner/run-once.ts`).
 */

export type { Duration } from './duration.ts';
export { NonRetryableError, PikoError, TimeoutError } from './errors.ts';
export type { Interval } from './interval.ts';
export {
  defineJob,
  type FargateSize,
  type FargateStage,
  fargate,
  type Handler,
  type JobDefinition,
  type JobOptions,
  type LambdaStage,
  type LogFields,
  lambda,
  type RetryOptions,
  type RunContext,
  type RunLogger,
  type Stage,
  secret,
} from './job.ts';
export {
  type IamAuthOptions,
  type MysqlPoolHandle,
  type MysqlPoolOptions,
  type MysqlPoolResource,
  mysqlPool,
} from './resources/mysql-pool.ts';
export {
  type ObjectInfo,
  type ObjectStore,
  type ObjectStoreOptions,
  type ObjectStoreResource,
  objectStore,
  type PutObjectOptions,
} from './resources/object-store.ts';
export { type SqlPoolOptions, type SqlPoolResource, sqlPool } from './resources/sql-pool.ts';
export type {
  Borrowed,
  BorrowedResources,
  Resource,
  ResourceAwsNeeds,
  ResourceContext,
  ResourceMap,
} from './resources/types.ts';
export type { WaitStats } from './resources/wait-stats.ts';
export {
  type InstantInput,
  type RunJobOnceOptions,
  type RunJobOnceResult,
  type RunLog,
  runJobOnce,
} from './runner/run-once.ts';
export { type JsonLinesSinkOptions, jsonLinesSink } from './sinks/json-lines-sink.ts';
export { type DefinedRecordType, defineRecord } from './sinks/record.ts';
export type { RecordType, Sink, SinkContext, TaggedRecord } from './sinks/types.ts';
export { type UpsertSinkOptions, upsertSink } from './sinks/upsert-sink.ts';
export type { SqlDatabase, SqlDialect, SqlRow } from './sql.ts';
export { logger, metrics } from './telemetry.ts';
