/**
 * Secrets never leave Piko: jobs that log and throw the state database's DSN (with its password) and an
 * RDS IAM auth token run through the real CLI in child processes (`piko start --once`, `piko run`,
 * `piko status`) on MariaDB, as a dedicated user with a password; then every output line, the `error`
 * column of `piko_runs` and every file under the data directory are searched for the secrets.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Signer } from '@aws-sdk/rds-signer';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlGate, mysqlTestDsn } from '../../support/mysql.ts';
import { TOKEN_ENV } from '../fixtures/secret-jobs/index.ts';

const gate = await mysqlGate('secrets test');
const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'bin/piko.mjs');
const CHILD_TIMEOUT_MS = 45_000;

interface Output {
  readonly where: string;
  readonly text: string;
}

interface Child {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `piko <args>` with Piko's variables replaced by `env`. */
function piko(args: readonly string[], env: Record<string, string>): Promise<Child> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PIKO_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

describe.skipIf(gate.skip)('secrets', () => {
  const suffix = randomBytes(4).toString('hex');
  const database = `piko_t_secrets_${suffix}`;
  const user = `piko_sec_${suffix}`;
  /** Characters that must be percent-encoded in a DSN, so both forms are searched for. */
  const password = `Pk-${randomBytes(6).toString('hex')}!s3cr@t:/#`;
  const credentials = {
    accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(24).toString('base64')}`,
  };
  let admin: mysql.Connection;
  let dataDir: string;
  let dsn: string;
  let token: string;
  /** What must never be seen, by name. */
  let secrets: Record<string, string>;

  beforeAll(async () => {
    const server = new URL(mysqlTestDsn());
    admin = await mysql.createConnection({
      host: server.hostname,
      port: Number(server.port || 3306),
      user: decodeURIComponent(server.username),
      password: decodeURIComponent(server.password),
    });
    await admin.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await admin.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', password]);
    await admin.query(`GRANT ALL ON \`${database}\`.* TO ?@?`, [user, '%']);
    dsn = `mysql://${user}:${encodeURIComponent(password)}@${server.hostname}:${server.port || 3306}/${database}`;
    // SigV4 presigning is offline: fake static credentials sign a real-looking token.
    token = await new Signer({
      hostname: server.hostname,
      port: Number(server.port || 3306),
      username: user,
      region: 'eu-west-1',
      credentials,
    }).getAuthToken();
    const param = (name: string) => new URLSearchParams(token.slice(token.indexOf('?'))).get(name) ?? '';
    secrets = {
      password,
      'password (percent-encoded)': encodeURIComponent(password),
      'token signature': param('X-Amz-Signature'),
      'token credential': param('X-Amz-Credential'),
      'token credential (encoded)': encodeURIComponent(param('X-Amz-Credential')),
      'token security token': param('X-Amz-Security-Token'),
      'token security token (encoded)': encodeURIComponent(param('X-Amz-Security-Token')),
      'access key id': credentials.accessKeyId,
      'secret access key': credentials.secretAccessKey,
    };
    for (const [name, value] of Object.entries(secrets)) expect(value.length, name).toBeGreaterThan(8);
    dataDir = await mkdtemp(path.join(tmpdir(), 'piko-secrets-'));
  });

  afterAll(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await admin?.query('DROP USER IF EXISTS ?@?', [user, '%']);
    await admin?.end();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps the DSN password and the IAM token out of logs, CLI output, error records and data files', async () => {
    // Arrange
    const env = {
      PIKO_JOBS_DIR: 'test/fixtures/secret-jobs',
      PIKO_DATA_DIR: dataDir,
      PIKO_MYSQL__DSN: dsn,
      PIKO_LOG_LEVEL: 'debug',
      [TOKEN_ENV]: token,
    };
    const outputs: Output[] = [];
    const record = (what: string, child: Child) => {
      outputs.push(
        { where: `${what} stdout`, text: child.stdout },
        { where: `${what} stderr`, text: child.stderr },
      );
    };

    // Act: readable lines, then JSON lines (a manual re-run of the last interval), then the status views.
    const start = await piko(['start', '--once'], env);
    record('start --once', start);
    const rerun = await piko(['run', 'secret_leaky_connect', '--json'], { ...env, PIKO_LOG_JSON: 'true' });
    record('run --json', rerun);
    const statusJson = await piko(['status', '--json'], env);
    record('status --json', statusJson);
    const status = await piko(['status'], env);
    record('status', status);
    const [rows] = await admin.query<mysql.RowDataPacket[]>(
      `SELECT job_id, interval_start, status, error FROM \`${database}\`.piko_runs ORDER BY run_id`,
    );
    for (const row of rows)
      outputs.push({
        where: `piko_runs.error of ${row.job_id} ${row.interval_start}`,
        text: String(row.error),
      });
    for (const file of await filesUnder(dataDir)) {
      outputs.push({
        where: `file ${path.relative(dataDir, file)}`,
        text: (await readFile(file)).toString('latin1'),
      });
    }

    // Assert: the runs failed as the jobs meant, through the paths under test...
    expect(start.code, start.stderr).toBe(1);
    expect(rerun.code, rerun.stderr).toBe(1);
    expect(statusJson.code, statusJson.stderr).toBe(0);
    expect(status.code, status.stderr).toBe(0);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    expect(rows.every((row) => row.status === 'failed')).toBe(true);
    expect(rows.map((row) => String(row.error)).join('\n')).toContain('cannot connect to mysql://');
    expect(start.stdout + start.stderr).toContain('connecting to mysql://');
    expect(rerun.stdout + rerun.stderr).toContain('"message":"connect failed"');
    expect(status.stdout).toContain('bad credentials: password=');
    // ...and no secret appears anywhere.
    const leaks = outputs.flatMap(({ where, text }) =>
      Object.entries(secrets)
        .filter(([, secret]) => text.includes(secret))
        .map(([name, secret]) => {
          const at = text.indexOf(secret);
          return `${name} in ${where}: …${text.slice(Math.max(0, at - 60), at + secret.length + 20)}…`;
        }),
    );
    console.log(
      `[secrets] searched ${outputs.length} outputs (${Object.keys(secrets).length} secrets): ` +
        `${rows.length} piko_runs.error values, ${outputs.filter((o) => o.where.startsWith('file ')).length} data files, ` +
        `${outputs.reduce((n, o) => n + o.text.split('\n').length, 0)} lines in all`,
    );
    expect(leaks).toEqual([]);
  });
});
