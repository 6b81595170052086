/**
 * How a Piko Lambda opens the state store from the configuration. Kept out of `env.ts`: the
 * configuration and telemetry import the variable names there, and this needs the configuration's
 * and the MySQL store's types, so in one module they made an import cycle.
 */
import type { PikoConfig } from '../config.ts';
import type { MysqlStoreOptions } from '../store/mysql/index.ts';
import { ENV_MYSQL_DSN, requiredEnv } from './env.ts';

/**
 * How a Piko Lambda opens the state store, read from the configuration as every Piko process reads
 * it (`[mysql]`, i.e. `PIKO_MYSQL__*`): IAM tokens when `mysql.iam_auth` is on (signed for
 * `mysql.region`), else the DSN's password. TLS as the DSN's `ssl` parameter says; without one, TLS
 * verified against Node's CAs (and `NODE_EXTRA_CA_CERTS`), which RDS Proxy's ACM certificate chains
 * to, so the bundles need no RDS CA certificates.
 * @throws ConfigError when `mysql.dsn` is not set.
 */
export function lambdaStoreOptions(config: PikoConfig, poolSize: number): MysqlStoreOptions {
  const dsn = config.mysql.dsn ?? requiredEnv(ENV_MYSQL_DSN, {});
  const { iamAuth, region } = config.mysql;
  return {
    dsn,
    poolSize,
    iamAuth: iamAuth && region ? { region } : undefined,
    ssl: new URL(dsn).searchParams.has('ssl') ? undefined : true,
  };
}
