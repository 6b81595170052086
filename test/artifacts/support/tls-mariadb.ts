/**
 * A private MariaDB for one test file: its own datadir under a temporary folder, its own port and
 * socket, TLS with a certificate of the test CA, and every TCP connection required to use TLS
 * (`--require-secure-transport`). The shared server on 3306 is never touched.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { artifactRunDir } from './run.ts';
import { issueServerCertificate, type TestCa } from './test-ca.ts';

const run = promisify(execFile);
/** How long the server may take to accept connections on a busy machine. */
const START_TIMEOUT_MS = 60_000;

/** A database user of the private server. */
export interface DatabaseUser {
  readonly user: string;
  readonly password: string;
}

/** Options of {@link startTlsMariaDb}. */
export interface TlsMariaDbOptions {
  readonly ca: TestCa;
  /** Users created `REQUIRE SSL` with all privileges, and the grant option (as an RDS master user). */
  readonly users: readonly DatabaseUser[];
  /** Databases created (utf8mb4). */
  readonly databases: readonly string[];
}

/** A running private MariaDB. */
export interface TlsMariaDb {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Its Unix socket (root, no TLS needed there): for the tests' own checks. */
  readonly socket: string;
  readonly users: readonly DatabaseUser[];
  /** Runs SQL as root over the socket. */
  query<T = unknown>(sql: string, values?: unknown[]): Promise<T>;
  /** A root connection over the socket (the caller ends it). */
  rootConnection(database?: string): Promise<mysql.Connection>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the kernel's choice). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Installs a datadir, starts `mariadbd` on it with TLS, creates the users and databases. */
export async function startTlsMariaDb(options: TlsMariaDbOptions): Promise<TlsMariaDb> {
  const dir = mkdtempSync(path.join(tmpdir(), 'piko-mariadb-'));
  const datadir = path.join(dir, 'data');
  const socket = path.join(dir, 'mysqld.sock');
  const certificate = issueServerCertificate(options.ca, `mariadb-${path.basename(dir)}`, [
    '127.0.0.1',
    'localhost',
  ]);
  await run(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${datadir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--user=root',
    ],
    { timeout: 120_000 },
  );
  const port = await freePort();
  const log = openSync(path.join(dir, 'mariadbd.log'), 'w');
  const child: ChildProcess = spawn(
    'mariadbd',
    [
      '--no-defaults',
      '--user=root',
      `--datadir=${datadir}`,
      '--bind-address=127.0.0.1',
      `--port=${port}`,
      `--socket=${socket}`,
      `--pid-file=${path.join(dir, 'mariadbd.pid')}`,
      `--ssl-ca=${options.ca.certFile}`,
      `--ssl-cert=${certificate.certFile}`,
      `--ssl-key=${certificate.keyFile}`,
      '--require-secure-transport=ON',
      '--skip-name-resolve',
      '--skip-log-bin',
      '--innodb-buffer-pool-size=64M',
      '--innodb-log-file-size=16M',
      '--max-connections=200',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
    ],
    { stdio: ['ignore', log, log] },
  );
  const pidFile = path.join(artifactRunDir(), 'pids', `mariadbd-${child.pid}`);
  mkdirSync(path.dirname(pidFile), { recursive: true });
  writeFileSync(pidFile, String(child.pid));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );

  const rootConnection = (database?: string) =>
    mysql.createConnection({ socketPath: socket, user: 'root', database, multipleStatements: false });

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      throw new Error(`mariadbd exited at start:\n${readFileSync(path.join(dir, 'mariadbd.log'), 'utf8')}`);
    }
    try {
      const connection = await rootConnection();
      await connection.end();
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(
          `mariadbd did not accept connections in ${START_TIMEOUT_MS / 1000} s: ${String(error)}`,
        );
      }
      await sleep(100);
    }
  }

  const query = async <T>(sql: string, values?: unknown[]): Promise<T> => {
    const connection = await rootConnection();
    try {
      const [rows] = await connection.query(sql, values);
      return rows as T;
    } finally {
      await connection.end();
    }
  };
  for (const database of options.databases) {
    await query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  }
  for (const { user, password } of options.users) {
    await query(`CREATE USER ?@'%' IDENTIFIED BY ? REQUIRE SSL`, [user, password]);
    await query(`GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION`, [user]);
  }

  return {
    host: '127.0.0.1',
    port,
    socket,
    users: options.users,
    query,
    rootConnection,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exit;
        clearTimeout(timer);
      }
      try {
        unlinkSync(pidFile);
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
