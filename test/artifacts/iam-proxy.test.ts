/**
 * The IAM proxy (the tier's stand-in for RDS Proxy) refuses everything but a valid IAM token for its
 * host, port, user and region, and forwards a valid one to the TLS-only MariaDB behind it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Signer } from '@aws-sdk/rds-signer';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsIdentities } from './support/aws-identities.ts';
import { TEST_REGION } from './support/cfn-resolver.ts';
import { type IamProxy, startIamProxyOnFreeLoopback } from './support/iam-proxy.ts';
import { createTestCa, issueServerCertificate, type TestCa } from './support/test-ca.ts';
import { startTlsMariaDb, type TlsMariaDb } from './support/tls-mariadb.ts';

const ADMIN = { user: 'piko_admin', password: 'backend-admin-password' };
const READER = { user: 'piko_reader', password: 'backend-reader-password' };
const PROXY_ID = 'prx-0123456789abcdef0';

let caDir: string;
let ca: TestCa;
let db: TlsMariaDb;
let proxy: IamProxy;
let clockOffsetMs = 0;
const identities = new AwsIdentities();
const client = identities.principal('proxy-test-client', 'TestRole', 'arn:aws:iam::123456789012:role/test');

beforeAll(async () => {
  caDir = mkdtempSync(path.join(tmpdir(), 'piko-proxy-test-ca-'));
  ca = createTestCa(caDir);
  db = await startTlsMariaDb({ ca, users: [ADMIN, READER], databases: ['piko'] });
  proxy = await startIamProxyOnFreeLoopback({
    certificateFor: (host) => issueServerCertificate(ca, 'proxy', [host]),
    region: TEST_REGION,
    proxyResourceId: PROXY_ID,
    backend: { host: db.host, port: db.port, ca: ca.cert, users: [ADMIN, READER] },
    identities,
    now: () => new Date(Date.now() + clockOffsetMs),
  });
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await db?.stop();
  rmSync(caDir, { recursive: true, force: true });
});

/** A token as `@aws-sdk/rds-signer` signs it (what the bundles use). */
function token(overrides: { hostname?: string; port?: number; username?: string; region?: string } = {}) {
  return new Signer({
    hostname: overrides.hostname ?? proxy.host,
    port: overrides.port ?? proxy.port,
    username: overrides.username ?? ADMIN.user,
    region: overrides.region ?? TEST_REGION,
    credentials: client.credentials,
  }).getAuthToken();
}

/** Connects through the proxy as `user`, answering its clear-password request with `password`. */
async function connectWith(password: string, user = ADMIN.user): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: proxy.host,
    port: proxy.port,
    user,
    database: 'piko',
    ssl: { ca: ca.cert, rejectUnauthorized: true },
    authPlugins: { mysql_clear_password: () => () => Buffer.from(`${password}\0`) },
  });
}

async function refusal(password: string, user = ADMIN.user): Promise<string> {
  try {
    const connection = await connectWith(password, user);
    await connection.end();
  } catch (error) {
    return `${(error as { code?: string }).code}: ${(error as Error).message}`;
  }
  throw new Error('the proxy accepted the connection');
}

const denied = (user = ADMIN.user) =>
  `ER_ACCESS_DENIED_ERROR: Access denied for user '${user}'@'127.0.0.1' (using password: YES)`;

describe('IAM proxy', () => {
  it('accepts a valid token, logs in to the TLS-only backend as that user, and records rds-db:connect', async () => {
    const connection = await connectWith(await token());
    try {
      const [rows] = await connection.query('SELECT CURRENT_USER() AS user, DATABASE() AS db');
      expect(rows).toEqual([{ user: 'piko_admin@%', db: 'piko' }]);
      const [cipher] = await connection.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
      expect((cipher as { Value: string }[])[0]!.Value).not.toBe('');
    } finally {
      await connection.end();
    }
    expect(identities.calls().at(-1)).toEqual({
      action: 'rds-db:connect',
      resource: `arn:aws:rds-db:eu-west-1:123456789012:dbuser:${PROXY_ID}/piko_admin`,
      accessKeyId: client.credentials.accessKeyId,
      principal: client,
    });
  });

  it('refuses a token whose signature was altered', async () => {
    const valid = await token();
    const altered = valid.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_, c: string) => `X-Amz-Signature=${c === 'a' ? 'b' : 'a'}`,
    );
    expect(altered).not.toBe(valid);
    expect(await refusal(altered)).toBe(denied());
    expect(proxy.logins().at(-1)).toEqual({
      user: 'piko_admin',
      accepted: false,
      reason: 'the signature does not match',
    });
  });

  it('refuses a token for another user', async () => {
    expect(await refusal(await token({ username: READER.user }))).toBe(denied());
    expect(proxy.logins().at(-1)?.reason).toBe('the token is for user piko_reader, not piko_admin');
  });

  it('refuses a token for another host and for another port', async () => {
    expect(await refusal(await token({ hostname: 'other-proxy.example' }))).toBe(denied());
    expect(proxy.logins().at(-1)?.reason).toBe(
      `the token is for other-proxy.example:3306/, not ${proxy.host}:3306/`,
    );
    expect(await refusal(await token({ port: 3307 }))).toBe(denied());
  });

  it('refuses a token signed for another region', async () => {
    expect(await refusal(await token({ region: 'us-east-1' }))).toBe(denied());
    expect(proxy.logins().at(-1)?.reason).toBe('the token is signed for us-east-1, not eu-west-1');
  });

  it('refuses an expired token', async () => {
    const valid = await token();
    clockOffsetMs = 15 * 60_000 + 1_000;
    try {
      expect(await refusal(valid)).toBe(denied());
    } finally {
      clockOffsetMs = 0;
    }
    expect(proxy.logins().at(-1)?.reason).toBe('the token has expired');
  });

  it('refuses a plain password, even the backend’s own', async () => {
    expect(await refusal(ADMIN.password)).toBe(denied());
    expect(proxy.logins().at(-1)?.reason).toBe('the password is not a SigV4-presigned IAM auth token');
  });

  it('refuses a token signed with unknown credentials', async () => {
    const foreign = await new Signer({
      hostname: proxy.host,
      port: proxy.port,
      username: ADMIN.user,
      region: TEST_REGION,
      credentials: { accessKeyId: 'AKIAFOREIGNKEY000000', secretAccessKey: 'another-secret' },
    }).getAuthToken();
    expect(await refusal(foreign)).toBe(denied());
    expect(proxy.logins().at(-1)?.reason).toBe('the access key AKIAFOREIGNKEY000000 is not known');
  });

  it('refuses a client without TLS', async () => {
    const error = await mysql
      .createConnection({ host: proxy.host, port: proxy.port, user: ADMIN.user, password: 'x' })
      .then(async (connection) => {
        await connection.end();
        return 'connected';
      })
      .catch((caught: Error) => caught.message);
    expect(error).toBe('This RDS Proxy requires TLS connections');
  });
});
