import { describe, expect, it, vi } from 'vitest';
import type { PikoConfig } from '../../../shared/config.ts';
import { mysqlPool } from '../../../shared/resources/mysql-pool.ts';

const signer = vi.hoisted(() => ({
  options: [] as unknown[],
  tokens: 0,
}));
vi.mock('@aws-sdk/rds-signer', () => ({
  Signer: class {
    constructor(options: unknown) {
      signer.options.push(options);
    }
    async getAuthToken() {
      signer.tokens += 1;
      return `proxy.internal:3306/?Action=connect&X-Amz-Signature=sig${signer.tokens}`;
    }
  },
}));

const config = vi.hoisted(() => ({ mysql: {} as Record<string, unknown> }));
vi.mock('../../../shared/config.ts', () => ({
  getConfig: () => ({ mysql: config.mysql }) as unknown as PikoConfig,
}));

describe('mysqlPool', () => {
  it('refuses a max that is not a positive integer', () => {
    expect(() => mysqlPool({ max: 0 })).toThrow('mysqlPool: max must be an integer of 1 or more, got 0');
  });

  it('asks for the state database grants only when it uses the configured DSN', () => {
    expect(mysqlPool().aws).toEqual({ stateDatabase: true });
    expect(mysqlPool({ dsn: 'mysql://app:pw@other/db' }).aws).toEqual({ stateDatabase: false });
    expect(mysqlPool().kind).toBe('mysql-pool');
  });

  it('explains a missing DSN when the handle is created', async () => {
    config.mysql = { poolSize: 10, iamAuth: false };

    const creating = mysqlPool().create({ jobId: 'daily_sales', name: 'db' });

    await expect(creating).rejects.toThrow(
      'Invalid configuration:\n  - mysql.dsn is not set, but resource "db" of job "daily_sales" is a mysqlPool() without a dsn: set PIKO_MYSQL__DSN or [mysql] dsn in settings.toml, or pass mysqlPool({ dsn })',
    );
  });

  it('uses the configured DSN and IAM setting by default', async () => {
    config.mysql = {
      dsn: 'mysql://piko_app@proxy.internal:3306/piko',
      poolSize: 10,
      iamAuth: true,
      region: 'eu-west-1',
    };
    signer.options.length = 0;
    const resource = mysqlPool({ max: 3 });

    const handle = await resource.create({ jobId: 'daily_sales', name: 'db' });
    await resource.destroy(handle);

    expect(signer.options).toEqual([
      { hostname: 'proxy.internal', port: 3306, username: 'piko_app', region: 'eu-west-1' },
    ]);
    expect(resource.poolWaitStats().count).toBe(0);
  });
});
