/**
 * Resources lent to runs (`shared/resources/`, DESIGN.md §2): pools shared by every run of a process
 * (MySQL pools, SQL databases, the object store), lent through `ResourceRegistry` so that thousands of
 * runs never open more connections than the pool allows, with wait statistics. It may import the
 * store's MySQL driver, the errors and telemetry; jobs reach it through the public API (`#piko`).
 */
export { type Loan, ResourceRegistry } from './lending.ts';
export {
  type IamAuthOptions,
  type MysqlPoolHandle,
  type MysqlPoolOptions,
  type MysqlPoolResource,
  mysqlPool,
} from './mysql-pool.ts';
export {
  checkObjectKey,
  MAX_OBJECT_KEY_BYTES,
  MAX_PUT_OBJECT_BYTES,
  type ObjectInfo,
  type ObjectStore,
  type ObjectStoreOptions,
  type ObjectStoreResource,
  objectStore,
  type PutObjectOptions,
} from './object-store.ts';
export { type SqlPoolOptions, type SqlPoolResource, sqlPool } from './sql-pool.ts';
export type {
  Borrowed,
  BorrowedResources,
  Resource,
  ResourceAwsNeeds,
  ResourceContext,
  ResourceMap,
} from './types.ts';
export { WaitHistogram, type WaitStats } from './wait-stats.ts';
