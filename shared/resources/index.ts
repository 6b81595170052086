/** Resources lent to runs (DESIGN.md §2). */
export { type Loan, ResourceRegistry } from './lending.ts';
export {
  type IamAuthOptions,
  IamTokenCache,
  type MysqlPoolHandle,
  type MysqlPoolOptions,
  type MysqlPoolResource,
  mysqlConnectionOptions,
  mysqlPool,
  parseMysqlDsn,
} from './mysql-pool.ts';
export type {
  Borrowed,
  BorrowedResources,
  Resource,
  ResourceAwsNeeds,
  ResourceContext,
  ResourceMap,
} from './types.ts';
export { WaitHistogram, type WaitStats } from './wait-stats.ts';
