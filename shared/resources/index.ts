/** Resources lent to runs (DESIGN.md §2). */
export { type Loan, ResourceRegistry } from './lending.ts';
export {
  type IamAuthOptions,
  type MysqlPoolHandle,
  type MysqlPoolOptions,
  type MysqlPoolResource,
  mysqlPool,
} from './mysql-pool.ts';
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
