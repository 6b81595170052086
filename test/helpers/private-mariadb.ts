/**
 * A private MariaDB for one test file, for server settings the shared server on 3306 must keep (it is
 * never reconfigured): its own datadir under a temporary folder, its own port and socket, extra
 * `mariadbd` options, and a user `piko` (no password, every privilege) for TCP connections.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';

const run = promisify(execFile);
/** How long the server may take to accept connections on a busy machine. */
const START_TIMEOUT_MS = 60_000;

/** A free TCP port on 127.0.0.1 (the kernel's choice). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Options of {@link startPrivateMariaDb}. */
export interface PrivateMariaDbOptions {
  /** Extra `mariadbd` options; a later one overrides a default. @default [] */
  readonly args?: readonly string[];
  /** Create the passwordless TCP user `piko` (every privilege) that {@link PrivateMariaDb.dsn} names. @default true */
  readonly tcpUser?: boolean;
  /** Called with the server's pid once it is spawned (to kill it if the test runner dies). @default - none */
  readonly onSpawn?: (pid: number) => void;
}

/** A running private MariaDB. */
export interface PrivateMariaDb {
  readonly port: number;
  /** Its Unix socket (root, no password, no TLS needed there). */
  readonly socket: string;
  /** Runs SQL as root over the socket. */
  query<T = unknown>(sql: string, values?: unknown[]): Promise<T>;
  /** A root connection over the socket (the caller ends it). */
  rootConnection(database?: string): Promise<mysql.Connection>;
  /** `mysql://piko@127.0.0.1:<port>/<database>` for a database created with {@link createDatabase}. */
  dsn(database: string): string;
  /** Creates a database (utf8mb4, binary collation) and returns its DSN. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

/** Installs a datadir and starts `mariadbd` on it with extra options (e.g. `--max-allowed-packet=512K`). */
export async function startPrivateMariaDb(options: PrivateMariaDbOptions = {}): Promise<PrivateMariaDb> {
  const dir = mkdtempSync(path.join(tmpdir(), 'piko-mariadb-'));
  const datadir = path.join(dir, 'data');
  const socket = path.join(dir, 'mysqld.sock');
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
      '--skip-name-resolve',
      '--skip-log-bin',
      '--innodb-buffer-pool-size=32M',
      '--innodb-log-file-size=16M',
      '--character-set-server=utf8mb4',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', log, log] },
  );
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const rootConnection = (database?: string) =>
    mysql.createConnection({ socketPath: socket, user: 'root', database });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited)
      throw new Error(`mariadbd exited at start:\n${readFileSync(path.join(dir, 'mariadbd.log'), 'utf8')}`);
    try {
      await (await rootConnection()).end();
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
  if (options.tcpUser ?? true) {
    await query("CREATE USER 'piko'@'%'");
    await query("GRANT ALL PRIVILEGES ON *.* TO 'piko'@'%'");
  }
  const dsn = (database: string) => `mysql://piko@127.0.0.1:${port}/${database}`;
  return {
    port,
    socket,
    query,
    rootConnection,
    dsn,
    async createDatabase(name) {
      await query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      return dsn(name);
    },
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
