/**
 * MySQL for Piko: the state store (`openMysqlStore`), how to connect (DSN, TLS, IAM tokens, pool
 * options) and the one adapter of a mysql2 connection to `SqlDatabase`, which the jobs' `sqlPool()`
 * lends too. Imports mysql2, `../sql/` and `../migrations.ts`; runs everywhere, AWS included.
 */
export { MysqlConnectionDatabase, type MysqlStatementOptions } from './connection-database.ts';
export { dsnTarget, type MysqlDsn, parseMysqlDsn, redactDsn } from './dsn.ts';
export { createIamTokenProvider, IAM_TOKEN_REFRESH_MS, type IamTokenSigner } from './iam-token.ts';
export {
  DEFAULT_QUERY_TIMEOUT_SECONDS,
  type MysqlConnectionOptions,
  type MysqlIamAuthOptions,
  type MysqlSsl,
  mysqlPoolOptions,
} from './pool-options.ts';
export { sessionSetup } from './session.ts';
export { type MysqlStoreOptions, openMysqlStore } from './store.ts';
