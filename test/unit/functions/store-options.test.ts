import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config.ts';
import { lambdaStoreOptions } from '../../../shared/stack/lambda-store.ts';

const configOf = (env: Record<string, string>) => loadConfig({ cwd: '/nonexistent', env });

describe('lambdaStoreOptions', () => {
  it('signs IAM tokens for the region and verifies TLS with Node’s CAs, as the stack configures it', () => {
    const config = configOf({
      PIKO_MYSQL__DSN: 'mysql://piko_admin@proxy.example:3306/piko',
      PIKO_MYSQL__IAM_AUTH: 'true',
      AWS_REGION: 'eu-west-1',
    });
    expect(lambdaStoreOptions(config, 2)).toEqual({
      dsn: 'mysql://piko_admin@proxy.example:3306/piko',
      poolSize: 2,
      iamAuth: { region: 'eu-west-1' },
      ssl: true,
    });
  });

  it('follows PIKO_MYSQL__IAM_AUTH=false and the DSN’s ssl parameter', () => {
    const config = configOf({
      PIKO_MYSQL__DSN: 'mysql://root@127.0.0.1:3306/piko?ssl=false',
      PIKO_MYSQL__IAM_AUTH: 'false',
    });
    expect(lambdaStoreOptions(config, 1)).toEqual({
      dsn: 'mysql://root@127.0.0.1:3306/piko?ssl=false',
      poolSize: 1,
      iamAuth: undefined,
      ssl: undefined,
    });
  });

  it('names the variable when the DSN is not set', () => {
    expect(() => lambdaStoreOptions(configOf({}), 1)).toThrow(
      'Invalid configuration:\n  - environment variable PIKO_MYSQL__DSN is not set; the Piko stack sets it on this function (redeploy with npx cdk deploy)',
    );
  });
});
