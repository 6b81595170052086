import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { PikoConfig } from '../../../shared/config.ts';
import {
  IAM_TOKEN_REFRESH_MS,
  IamTokenCache,
  mysqlConnectionOptions,
  mysqlPool,
  parseMysqlDsn,
} from '../../../shared/resources/mysql-pool.ts';

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

describe('parseMysqlDsn', () => {
  it('splits a DSN, decoding its parts and parsing option values', () => {
    const dsn = parseMysqlDsn(
      'mysql://app%40x:p%2Fw@db.internal:3307/piko_db?connectTimeout=2000&charset=utf8mb4',
    );

    expect(dsn).toEqual({
      host: 'db.internal',
      port: 3307,
      user: 'app@x',
      password: 'p/w',
      database: 'piko_db',
      params: { connectTimeout: 2000, charset: 'utf8mb4' },
    });
  });

  it('defaults the port to 3306', () => {
    expect(parseMysqlDsn('mysql://root@127.0.0.1/piko').port).toBe(3306);
  });

  it('refuses what is not a mysql URL, without printing the password', () => {
    expect(() => parseMysqlDsn('postgres://app:hunter22@db/piko')).toThrow(
      'Invalid MySQL DSN "postgres://<redacted>@db/piko": expected mysql://user:password@host:3306/database',
    );
  });
});

describe('mysqlConnectionOptions', () => {
  beforeEach(() => {
    signer.options.length = 0;
    signer.tokens = 0;
  });

  it('connects in UTC with the DSN password when IAM is off', () => {
    const options = mysqlConnectionOptions('mysql://app:pw@db:3306/piko');

    expect(options).toMatchObject({
      host: 'db',
      port: 3306,
      user: 'app',
      password: 'pw',
      database: 'piko',
      timezone: 'Z',
    });
    expect(options.ssl).toBeUndefined();
    expect(signer.options).toEqual([]);
  });

  it('uses TLS and a signed IAM token as cleartext password when IAM is on', async () => {
    const options = mysqlConnectionOptions('mysql://piko_app@proxy.internal:3306/piko', {
      iamAuth: { region: 'eu-west-1' },
    });
    const plugin = options.authPlugins?.mysql_clear_password;
    const respond = plugin?.({ connection: {} as never, command: {} as never });

    const first = await respond?.(Buffer.alloc(0));
    const second = await respond?.(Buffer.alloc(0));

    expect(signer.options).toEqual([
      { hostname: 'proxy.internal', port: 3306, username: 'piko_app', region: 'eu-west-1' },
    ]);
    expect(options).toMatchObject({ ssl: 'Amazon RDS', password: undefined });
    expect(String(first)).toBe('proxy.internal:3306/?Action=connect&X-Amz-Signature=sig1\0');
    expect(String(second)).toBe(String(first));
    expect(signer.tokens).toBe(1);
  });

  it('refuses a DSN with a password when IAM is on', () => {
    expect(() =>
      mysqlConnectionOptions('mysql://app:pw@proxy/piko', { iamAuth: { region: 'eu-west-1' } }),
    ).toThrow('A MySQL DSN used with IAM authentication must not contain a password');
  });
});

describe('IamTokenCache', () => {
  it('signs a new token once the current one is 10 minutes old, and shares a signing', async () => {
    let now = Date.parse('2026-11-26T11:00:00.000Z');
    let signed = 0;
    const cache = new IamTokenCache(
      async () => `token-${++signed}`,
      () => now,
    );

    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    now += IAM_TOKEN_REFRESH_MS - 1;
    const c = await cache.get();
    now += 1;
    const d = await cache.get();

    expect([a, b, c, d]).toEqual(['token-1', 'token-1', 'token-1', 'token-2']);
    expect(IAM_TOKEN_REFRESH_MS).toBe(10 * 60_000);
  });

  it('does not keep a failed signing', async () => {
    let calls = 0;
    const cache = new IamTokenCache(async () => {
      calls += 1;
      if (calls === 1) throw new Error('ExpiredToken');
      return 'token-ok';
    });

    await expect(cache.get()).rejects.toThrow('ExpiredToken');
    await expect(cache.get()).resolves.toBe('token-ok');
  });
});

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
